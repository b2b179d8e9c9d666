"""``/api/v1/supervisor/wallboard`` and ``/api/v1/supervisor/reports`` over HTTP: the shapes the
document promises, a CSV download, and a clear 422 for a bad parameter."""

from __future__ import annotations

from carecentre.states import Role
from tests.support.api import Api


def test_the_wallboard_counts_what_waits(api: Api) -> None:
    api.sms("Pothole", queue="roads")
    api.email("Bin", sender="a@example.org", queue="waste")
    board = api.get("/supervisor/wallboard")
    assert board.status_code == 200
    data = board.json()
    assert data["total"]["waiting"] == 2
    assert data["channels"]["sms"]["waiting"] == 1
    assert {q["slug"]: q["waiting"] for q in data["queues"]}["roads"] == 1
    assert [a["name"] for a in data["agents"]] == ["Admin"]

    _, token = api.agent("wb@city.example", role=Role.SUPERVISOR, queues=["waste"])
    theirs = api.get("/supervisor/wallboard", token=token).json()
    assert [q["slug"] for q in theirs["queues"]] == ["waste"]
    assert theirs["total"]["waiting"] == 1


def test_reports_as_json_and_csv(api: Api) -> None:
    api.sms("Pothole", queue="roads")
    report = api.get("/supervisor/reports")
    assert report.status_code == 200
    assert report.json()["volume"]["total"] == 1
    csv = api.get(
        "/supervisor/reports", params={"from": "2026-01-01", "to": "2026-01-31", "format": "csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert 'filename="report-2026-01-01-2026-01-31.csv"' in csv.headers["content-disposition"]
    assert csv.text.startswith("report,from,2026-01-01,to,2026-01-31")


def test_a_bad_report_parameter_is_named(api: Api) -> None:
    for params, field in (
        ({"from": "01/02/2026"}, "from"),
        ({"channel": "fax"}, "channel"),
        ({"queue": "nowhere"}, "queue"),
        ({"format": "pdf"}, "format"),
    ):
        response = api.get("/supervisor/reports", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field
