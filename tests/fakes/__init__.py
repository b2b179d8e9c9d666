"""Local fakes of the network services CareCentre talks to, for tests."""
