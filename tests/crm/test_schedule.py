"""The schedule (/schedule): day and week views, and booking, moving and cancelling appointments,
for an agent and for the assistants who support them; nobody else sees or books anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.clock import FrozenClock
from webapp.crm import schedule as booking
from webapp.crm.models import Appointment, AppointmentStatus

C = "Sch7~"  # the canary every field of the agent's client carries
NEW_YORK = ZoneInfo("America/New_York")
MEDICAL = [f"Condition{C}", f"Med{C}", f"{C}mg", f"Daily{C}", f"Dr{C}", f"Spec{C}"]
NOT_SCHEDULE = [*MEDICAL, f"Plan{C}", f"Carrier{C}", f"M{C}", f"CL{C}", f"Visit{C}",
                f"Card{C}", f"Note{C}", f"Summary{C}", f"MBI{C}", f"1 {C} Street",
                f"{C}@example.org", f"900-11-{C}", "06/02/1948"]


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # Thursday, 9:00 in New York


@pytest.fixture
def office(session, factories, signed_in):
    """An agent with a canary client and a week of appointments; another agent with a client of
    their own; an assistant who supports the agent and one who supports only the other."""
    phones = {
        "agent": signed_in("agent@example.com", "agent"),
        "other_agent": signed_in("other@example.com", "agent"),
    }
    phones["assistant"] = signed_in("help@example.com", "assistant",
                                    agent_emails=("agent@example.com",))
    phones["stranger"] = signed_in("nohelp@example.com", "assistant",
                                   agent_emails=("other@example.com",))
    agent = session.scalar(select(User).where(User.email == "agent@example.com"))
    other = session.scalar(select(User).where(User.email == "other@example.com"))
    client = factories.full_client(agent, canary=C,
                                   appointment_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    second = factories.client(agent, first_name="Early", last_name="Bird")
    theirs = factories.client(other, first_name="Their", last_name="Client")

    def appointment(who, at, place, purpose, **values):
        row = Appointment(client=who, agent_id=who.agent_id, starts_at=at, place=place,
                          purpose=purpose, **values)
        session.add(row)
        return row

    appointment(second, datetime(2026, 12, 3, 13, 30, tzinfo=UTC), "Early place", "Early chat")
    appointment(client, datetime(2026, 12, 5, 17, 0, tzinfo=UTC), "Saturday place",
                "Saturday visit")
    appointment(client, datetime(2026, 12, 7, 15, 0, tzinfo=UTC), "Next week place",
                "Next week visit")
    appointment(client, datetime(2026, 12, 4, 15, 0, tzinfo=UTC), "Cancelled place",
                "Cancelled visit", status=AppointmentStatus.CANCELLED)
    their_visit = appointment(theirs, datetime(2026, 12, 3, 16, 0, tzinfo=UTC), "Their place",
                              "Their visit")
    session.commit()
    return {"phones": phones, "agent": agent, "other": other, "client": client,
            "second": second, "theirs": theirs, "their_visit": their_visit}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _appointment(session, client, purpose: str) -> Appointment:
    session.expire_all()
    rows = session.scalars(select(Appointment).where(Appointment.client_id == client.id)).all()
    return next(row for row in rows if row.purpose == purpose)


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Appointment))


def _booking(office, **overrides) -> dict:
    data = {"agent": office["agent"].id, "client": office["client"].id, "date": "2026-12-08",
            "time": "14:30", "duration": "45", "place": "Kitchen table", "purpose": "Plan review"}
    return {**data, **overrides}


# -- day and week --------------------------------------------------------------------------------

def test_agent_day_view_lists_today_in_order_with_card_links(office):
    page = _text(office["phones"]["agent"].client.get("/schedule"))
    assert "Thursday, December 3, 2026" in page
    assert page.index("8:30 AM · Early Bird") < page.index(f"10:00 AM · First{C} Last{C}")
    assert f"Place{C}" in page and f"Purpose{C}" in page and "tel:+15550107788" in page
    assert f'href="/clients/{office["client"].id}"' in page
    assert "Saturday visit" not in page and "Cancelled visit" not in page
    assert "Their visit" not in page  # another agent's book


def test_agent_week_view_groups_monday_to_sunday(office):
    response = office["phones"]["agent"].client.get("/schedule?view=week&date=2026-12-03")
    page = _text(response)
    assert response.status_code == 200
    days = re.findall(r'data-day="([0-9-]+)"', page)
    assert days == [f"2026-{d}" for d in ("11-30", "12-01", "12-02", "12-03", "12-04",
                                             "12-05", "12-06")]
    assert "Monday, November 30" in page and "Sunday, December 6" in page
    assert "Saturday visit" in page and "12:00 PM" in page  # 17:00 UTC in New York
    assert "Next week visit" not in page and "Cancelled visit" not in page
    assert "view=week&amp;date=2026-11-23" in page and "view=week&amp;date=2026-12-07" in page


def test_day_view_links_to_the_days_around_it(office):
    page = _text(office["phones"]["agent"].client.get("/schedule?date=2026-12-07"))
    assert "Next week visit" in page
    assert "view=day&amp;date=2026-12-06" in page and "view=day&amp;date=2026-12-08" in page


@pytest.mark.parametrize("path", ["/schedule", "/schedule?view=week",
                                  "/schedule?view=week&date=2026-12-05"])
def test_linked_assistant_sees_schedule_fields_and_nothing_else(office, path):
    assistant = office["phones"]["assistant"]
    for headers in ({}, {"HX-Request": "true"}):
        response = assistant.client.get(path, headers=headers)
        page = _text(response)
        assert response.status_code == 200
        assert f"First{C} Last{C}" in page and "10:00 AM" in page
        assert f"Place{C}" in page and f"Purpose{C}" in page and "(555) 010-7788" in page
        assert "/clients/" not in page  # an assistant cannot open the card: no link to it
        leaked = [canary for canary in NOT_SCHEDULE if canary in page]
        assert not leaked
        assert "Their visit" not in page


def test_assistant_with_the_agent_chosen_sees_the_same(office):
    agent_id = office["agent"].id
    page = _text(office["phones"]["assistant"].client.get(f"/schedule?agent={agent_id}"))
    assert f"Purpose{C}" in page and "/clients/" not in page


def test_unlinked_assistant_sees_nothing_of_that_agent(office, session):
    stranger = office["phones"]["stranger"]
    for path in ("/schedule", "/schedule?view=week", "/schedule?view=week&date=2026-12-07"):
        page = _text(stranger.client.get(path))
        assert C not in page and "Early Bird" not in page and "Saturday visit" not in page
    assert "Their visit" in _text(stranger.client.get("/schedule"))  # their own agent's
    refused = stranger.client.get(f"/schedule?agent={office['agent'].id}")
    assert refused.status_code == 404 and C not in _text(refused)
    event = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")).all()[-1]
    assert (event.tag, event.reason) == ("client:record:view", "agent_not_supported")


def test_an_agent_sees_only_their_own_schedule(office):
    other = office["phones"]["other_agent"]
    page = _text(other.client.get("/schedule"))
    assert "Their visit" in page and C not in page
    assert other.client.get(f"/schedule?agent={office['agent'].id}").status_code == 404


def test_each_client_shown_is_an_audited_view(office, session):
    office["phones"]["assistant"].client.get("/schedule")
    views = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:view", AuditEvent.outcome == "success")).all()
    shown = {(e.client_id, e.details_json) for e in views if '"schedule"' in e.details_json}
    assert {client_id for client_id, _ in shown} == {office["client"].id, office["second"].id}


@pytest.mark.parametrize(("query", "message"), [
    ("view=month", "Choose the day or the week view."),
    ("date=2026-13-01", "That date is not valid"),
    ("date=2026-02-30", "That date is not valid"),
    ("date=tomorrow", "That date is not valid"),
    ("date=20261203", "That date is not valid"),
    ("date=9999-12-31", "within 10 years"),
    ("agent=../../etc", "That agent link is not valid"),
    ("agent=" + "x" * 300, "That agent link is not valid"),
])
def test_bad_schedule_addresses_get_a_clear_message(office, query, message):
    response = office["phones"]["assistant"].client.get(f"/schedule?{query}")
    assert response.status_code == 400 and message in _text(response)
    assert C not in _text(response)


@pytest.mark.parametrize("role", ["admin", "compliance"])
def test_admin_and_compliance_get_403_everywhere(office, signed_in, role):
    phone = signed_in(f"{role}@example.com", role)
    appointment_id = office["their_visit"].id
    responses = [
        phone.client.get("/schedule"),
        phone.client.get("/schedule?view=week"),
        phone.client.get("/schedule/appointments/new"),
        phone.client.get(f"/schedule/appointments/{appointment_id}/move"),
        phone.post_form("/schedule/appointments", _booking(office)),
        phone.post_form(f"/schedule/appointments/{appointment_id}/move",
                        {"date": "2026-12-09", "time": "10:00"}),
        phone.post_form(f"/schedule/appointments/{appointment_id}/cancel"),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    assert not any(C in _text(r) or "Their" in _text(r) for r in responses)


# -- booking -------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["agent", "assistant"])
def test_agent_and_linked_assistant_book_an_appointment(office, session, who):
    phone = office["phones"][who]
    form = phone.client.get(f"/schedule/appointments/new?agent={office['agent'].id}")
    page = _text(form)
    assert form.status_code == 200 and f"First{C} Last{C}" in page and "Early Bird" in page
    assert "No medical details" in page and "Their Client" not in page
    assert not [canary for canary in NOT_SCHEDULE if canary in page]

    before = _count(session)
    response = phone.post_form("/schedule/appointments", _booking(office))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/schedule?view=day&date=2026-12-08")
    assert _count(session) == before + 1
    booked = _appointment(session, office["client"], "Plan review")
    assert booked.agent_id == office["agent"].id and booked.duration_minutes == 45
    assert booked.starts_at == datetime(2026, 12, 8, 19, 30, tzinfo=UTC)  # 2:30 PM EST
    assert booked.status == AppointmentStatus.SCHEDULED
    raw = session.execute(select(Appointment.__table__.c.place).where(
        Appointment.id == booked.id)).scalar_one()
    assert b"Kitchen" not in bytes(raw)

    day = _text(phone.client.get("/schedule?date=2026-12-08"))
    assert "2:30 PM" in day and "Plan review" in day and "Kitchen table" in day
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:create", AuditEvent.record_type == "appointment")).one()
    assert event.record_id == booked.id and event.client_id == office["client"].id
    assert "place" in event.details_json and "Kitchen" not in event.details_json


def test_an_agent_books_without_naming_themselves(office, session):
    data = _booking(office)
    del data["agent"]
    response = office["phones"]["agent"].post_form("/schedule/appointments", data)
    assert response.status_code == 303
    assert _appointment(session, office["client"], "Plan review").agent_id == office["agent"].id


def test_the_booking_form_asks_an_assistant_of_several_agents_whose_schedule(
        office, signed_in):
    both = signed_in("both@example.com", "assistant",
                     agent_emails=("agent@example.com", "other@example.com"))
    chooser = _text(both.client.get("/schedule/appointments/new"))
    assert "Whose schedule?" in chooser and "Early Bird" not in chooser
    form = _text(both.client.get(f"/schedule/appointments/new?agent={office['other'].id}"))
    assert "Their Client" in form and "Early Bird" not in form and C not in form
    week = _text(both.client.get("/schedule"))
    assert "Their visit" in week and f"Purpose{C}" in week and "All my agents" in week
    assert "/clients/" not in week


def test_booking_form_refuses_an_agent_not_supported(office):
    stranger = office["phones"]["stranger"]
    response = stranger.client.get(f"/schedule/appointments/new?agent={office['agent'].id}")
    assert response.status_code == 404 and C not in _text(response)


REFUSED_BOOKINGS = [
    # (label, overrides, status, field message)
    ("agent not supported", {"agent": "@other"}, 404, None),
    ("unknown agent", {"agent": "NoSuchAgent000000000000"}, 404, None),
    ("another agent's client", {"client": "@theirs"}, 404, None),
    ("unknown client", {"client": "nope"}, 404, None),
    ("junk client id", {"client": "x" * 300}, 404, None),
    ("no client", {"client": ""}, 422, "Choose the client."),
    ("impossible date", {"date": "2026-02-30"}, 422, "Enter the date as YYYY-MM-DD"),
    ("words for a date", {"date": "next tuesday"}, 422, "Enter the date as YYYY-MM-DD"),
    ("no date", {"date": ""}, 422, "Enter the date as YYYY-MM-DD"),
    ("a past date", {"date": "2026-12-01"}, 422, "That time has passed"),
    ("earlier today", {"date": "2026-12-03", "time": "08:00"}, 422, "That time has passed"),
    ("years ahead", {"date": "2030-01-01"}, 422, "within the next two years"),
    ("bad time", {"time": "25:00"}, 422, "Enter the time as HH:MM"),
    ("no time", {"time": ""}, 422, "Enter the time as HH:MM"),
    ("skipped by the clocks", {"date": "2027-03-14", "time": "02:30"}, 422,
     "That time does not exist"),
    ("duration 0", {"duration": "0"}, 422, "15 to 240 minutes"),
    ("duration 999", {"duration": "999"}, 422, "15 to 240 minutes"),
    ("duration in words", {"duration": "an hour"}, 422, "15 to 240 minutes"),
    ("empty purpose", {"purpose": "   "}, 422, "Say what the appointment is for."),
    ("too-long purpose", {"purpose": "p" * 201}, 422, "At most 200 characters."),
    ("empty place", {"place": ""}, 422, "Say where the appointment is."),
    ("too-long place", {"place": "x" * 201}, 422, "At most 200 characters."),
]


@pytest.mark.parametrize("who", ["agent", "assistant"])
@pytest.mark.parametrize(("label", "overrides", "status", "message"), REFUSED_BOOKINGS,
                         ids=[case[0] for case in REFUSED_BOOKINGS])
def test_refused_bookings_change_nothing(office, session, who, label, overrides, status,
                                         message):
    ids = {"@other": office["other"].id, "@theirs": office["theirs"].id}
    data = _booking(office, **{k: ids.get(v, v) for k, v in overrides.items()})
    before = _count(session)
    response = office["phones"][who].post_form("/schedule/appointments", data)
    page = _text(response)
    assert response.status_code == status, label
    assert _count(session) == before
    assert "Their Client" not in page
    if message:
        assert message in page
        assert 'aria-invalid="true"' in page and 'class="field-error"' in page
    else:
        assert C not in page
        refusal = session.scalars(select(AuditEvent).where(
            AuditEvent.outcome == "refused")).all()[-1]
        assert refusal.tag == "client:record:create" and refusal.client_id is None


def test_a_refused_booking_keeps_what_was_typed(office):
    response = office["phones"]["assistant"].post_form(
        "/schedule/appointments", _booking(office, duration="999", place="Porch"))
    page = _text(response)
    assert response.status_code == 422
    assert 'value="Porch"' in page and 'value="Plan review"' in page
    assert f'<option value="{office["client"].id}" selected>' in page


# -- moving and cancelling -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["agent", "assistant"])
def test_agent_and_linked_assistant_move_an_appointment(office, session, who):
    phone = office["phones"][who]
    visit = _appointment(session, office["client"], f"Purpose{C}")
    form = phone.client.get(f"/schedule/appointments/{visit.id}/move")
    assert form.status_code == 200
    assert 'value="2026-12-03"' in _text(form) and 'value="10:00"' in _text(form)
    response = phone.post_form(f"/schedule/appointments/{visit.id}/move",
                               {"date": "2026-12-04", "time": "11:15"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("date=2026-12-04")
    moved = _appointment(session, office["client"], f"Purpose{C}")
    assert moved.starts_at == datetime(2026, 12, 4, 16, 15, tzinfo=UTC)
    assert f"Purpose{C}" not in _text(phone.client.get("/schedule"))
    assert "11:15 AM" in _text(phone.client.get("/schedule?date=2026-12-04"))
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:edit")).one()
    assert event.record_id == visit.id and '"starts_at"' in event.details_json


@pytest.mark.parametrize(("data", "message"), [
    ({"date": "2026-12-32", "time": "10:00"}, "Enter the date as YYYY-MM-DD"),
    ({"date": "2026-12-02", "time": "10:00"}, "That time has passed"),
    ({"date": "2026-12-04", "time": "noon"}, "Enter the time as HH:MM"),
    ({"date": "2026-12-03", "time": "10:00"}, "already at that time"),
])
def test_bad_moves_are_refused_and_change_nothing(office, session, data, message):
    visit = _appointment(session, office["client"], f"Purpose{C}")
    response = office["phones"]["assistant"].post_form(
        f"/schedule/appointments/{visit.id}/move", data)
    assert response.status_code == 422 and message in _text(response)
    assert _appointment(session, office["client"], f"Purpose{C}").starts_at == \
        datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def test_agent_cancels_with_htmx_and_the_row_is_swapped(office, session):
    agent = office["phones"]["agent"]
    visit = _appointment(session, office["client"], f"Purpose{C}")
    response = agent.post_form(f"/schedule/appointments/{visit.id}/cancel",
                               headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "The 10:00 AM appointment was cancelled." in _text(response)
    assert C not in _text(response)
    assert _appointment(session, office["client"], f"Purpose{C}").status == \
        AppointmentStatus.CANCELLED
    assert f"Purpose{C}" not in _text(agent.client.get("/schedule"))
    again = agent.post_form(f"/schedule/appointments/{visit.id}/cancel")
    assert again.status_code == 404
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:edit", AuditEvent.outcome == "success")).one()
    assert event.client_id == office["client"].id and '"cancel"' in event.details_json


def test_linked_assistant_cancels_without_javascript(office, session):
    visit = _appointment(session, office["client"], "Saturday visit")
    response = office["phones"]["assistant"].post_form(
        f"/schedule/appointments/{visit.id}/cancel")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("date=2026-12-05")
    assert _appointment(session, office["client"], "Saturday visit").status == \
        AppointmentStatus.CANCELLED


def test_a_done_appointment_cannot_be_moved_or_cancelled(office, session):
    visit = _appointment(session, office["client"], "Saturday visit")
    visit.status = AppointmentStatus.DONE
    session.commit()
    agent = office["phones"]["agent"]
    moved = agent.post_form(f"/schedule/appointments/{visit.id}/move",
                            {"date": "2026-12-09", "time": "10:00"})
    assert moved.status_code == 422 and "cannot be moved" in _text(moved)
    cancelled = agent.post_form(f"/schedule/appointments/{visit.id}/cancel")
    assert cancelled.status_code == 422
    assert _appointment(session, office["client"], "Saturday visit").status == \
        AppointmentStatus.DONE


@pytest.mark.parametrize("who", ["other_agent", "stranger"])
def test_another_agents_appointment_is_404_and_audited(office, session, who):
    phone = office["phones"][who]
    visit = _appointment(session, office["client"], f"Purpose{C}")
    responses = [
        phone.client.get(f"/schedule/appointments/{visit.id}/move"),
        phone.post_form(f"/schedule/appointments/{visit.id}/move",
                        {"date": "2026-12-09", "time": "10:00"}),
        phone.post_form(f"/schedule/appointments/{visit.id}/cancel",
                        headers={"HX-Request": "true"}),
        phone.post_form("/schedule/appointments/nope/cancel"),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    assert not any(C in _text(r) for r in responses)
    after = _appointment(session, office["client"], f"Purpose{C}")
    assert after.status == AppointmentStatus.SCHEDULED
    assert after.starts_at == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    refusals = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused")).all()
    assert {e.record_id for e in refusals} >= {visit.id, "nope"}


def test_the_audit_trail_holds_no_schedule_values(office, session):
    agent, assistant = office["phones"]["agent"], office["phones"]["assistant"]
    assistant.client.get("/schedule?view=week")
    assistant.client.get(f"/schedule/appointments/new?agent={office['agent'].id}")
    assistant.post_form("/schedule/appointments", _booking(office, place="Porch swing",
                                                           purpose="Renewal chat"))
    assistant.post_form("/schedule/appointments", _booking(office, duration="999",
                                                           place="Refused porch"))
    visit = _appointment(session, office["client"], f"Purpose{C}")
    agent.client.get(f"/schedule/appointments/{visit.id}/move")
    agent.post_form(f"/schedule/appointments/{visit.id}/move",
                    {"date": "2026-12-04", "time": "09:00"})
    agent.post_form(f"/schedule/appointments/{visit.id}/cancel")
    tags = set()
    for event in session.scalars(select(AuditEvent)):
        row = " ".join(str(v) for v in vars(event).values())
        tags.add(event.tag)
        for secret in (C, "Porch", "Renewal", "Early", "Bird", "Saturday visit", "010-7788"):
            assert secret not in row, (event.tag, secret)
    assert {"client:record:view", "client:record:create", "client:record:edit"} <= tags


# -- the domain, directly ------------------------------------------------------------------------

def test_week_periods_run_monday_to_sunday():
    from datetime import date

    period = booking.schedule_period(booking.ScheduleView.WEEK, date(2026, 12, 6))
    assert (period.first, period.last) == (date(2026, 11, 30), date(2026, 12, 6))
    assert len(period.days) == 7 and period.previous == date(2026, 11, 23)
    day = booking.schedule_period(booking.ScheduleView.DAY, date(2026, 12, 31))
    assert day.days == [date(2026, 12, 31)] and day.next == date(2027, 1, 1)


def test_a_week_across_the_clock_change_keeps_local_times(office, session):
    from datetime import date

    for at in (datetime(2027, 3, 9, 14, 0, tzinfo=UTC),  # 9:00 EST
               datetime(2027, 3, 14, 13, 0, tzinfo=UTC),  # 9:00 EDT, the clocks went forward
               datetime(2027, 3, 15, 3, 30, tzinfo=UTC)):  # 23:30 EDT, still Sunday
        session.add(Appointment(client=office["client"], agent_id=office["agent"].id,
                                starts_at=at, place="Spring place", purpose="Spring visit"))
    session.commit()
    period = booking.schedule_period(booking.ScheduleView.WEEK, date(2027, 3, 10))
    days = booking.schedule_days(session, office["agent"], period,
                                 booking.schedule_agents(session, office["agent"]), NEW_YORK)
    shown = [(d.day.isoformat(), e.appointment.starts_at.strftime("%H:%M"))
             for d in days for e in d.entries]
    assert shown == [("2027-03-09", "09:00"), ("2027-03-14", "09:00"), ("2027-03-14", "23:30")]
    assert all(e.opens_card for d in days for e in d.entries)
    assistant = session.scalar(select(User).where(User.email == "help@example.com"))
    rows = [e for d in booking.schedule_days(
        session, assistant, period, booking.schedule_agents(session, assistant), NEW_YORK)
        for e in d.entries]
    assert len(rows) == 3 and not any(e.opens_card for e in rows)
    assert set(rows[0].appointment) == {"id", "client_id", "agent_id", "starts_at",
                                        "duration_minutes", "status", "place", "purpose",
                                        "client_name", "client_phone"}



# -- Today (/) for an assistant --------------------------------------------------------------------

def test_linked_assistant_today_is_the_agents_day_with_schedule_fields_only(office, session):
    assistant = office["phones"]["assistant"]
    for headers in ({}, {"HX-Request": "true"}):
        response = assistant.client.get("/", headers=headers)
        page = _text(response)
        assert response.status_code == 200
        # The next visit (10:00; it is 9:00) as a card, then today in order, 8:30 first.
        next_card, day_list = page.split("data-appointments", 1)
        assert f"First{C} Last{C}" in next_card and "Early Bird" not in next_card
        assert day_list.index("Early Bird") < day_list.index(f"First{C} Last{C}")
        assert "Saturday visit" not in page and "Their visit" not in page
        assert f"Place{C}" in next_card and f"Purpose{C}" in next_card
        assert 'href="tel:+15550107788"' in next_card  # tap to call ahead
        assert "/clients/" not in page  # no card to open, so no link to one
        assert not [canary for canary in NOT_SCHEDULE if canary in page]
        assert " · for " not in page  # one agent supported: no need to say whose
    views = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:view", AuditEvent.outcome == "success")).all()
    shown = {e.client_id for e in views if '"today"' in e.details_json}
    assert shown == {office["client"].id, office["second"].id}


def test_an_assistant_of_several_agents_sees_whose_appointment_it_is(office, signed_in):
    both = signed_in("both@example.com", "assistant",
                     agent_emails=("agent@example.com", "other@example.com"))
    page = _text(both.client.get("/"))
    assert f"First{C} Last{C}" in page and "Their Client" in page
    assert f"for {office['agent'].display_name}" in page
    assert f"for {office['other'].display_name}" in page
    assert "/clients/" not in page


def test_unlinked_assistant_today_shows_only_their_own_agents_day(office):
    page = _text(office["phones"]["stranger"].client.get("/"))
    assert "Their Client" in page and "Their visit" in page
    assert C not in page and "Early Bird" not in page
