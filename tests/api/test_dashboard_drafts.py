"""The dashboard's draft review: GET/POST /dashboard/drafts/{id}, the list, discard.

Drafts are created through the lab-order API (POST /v1/orders, mode draft) of the lab
world in tests/api/labs/conftest.py; the pages are driven with the app's TestClient and a
signed-in session."""

from __future__ import annotations

import re
import uuid
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.models import AuditEntry, Event, Order, OrderStatusChange, User
from optihub.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from optihub.domain.orders import OrderStatus
from optihub.services.orders import NewOrder, place_order
from tests import factories
from tests.api.labs import conftest as labs
from tests.api.labs.conftest import OTHER_STAFF, STAFF
from tests.api.labs.test_orders import DELETE, valid_body

# The lab-order tests' world: a practice with staff, labs, accounts and a catalog.
lab_world, https, lab_token, lab = labs.lab_world, labs.https, labs.lab_token, labs.lab

PASSWORDS = {STAFF: "harbor-password-1", OTHER_STAFF: "hilltop-password", DEMO_EMAIL: DEMO_PASSWORD}
DRAFTS = "/dashboard/drafts"
# The drafts' list is the board's draft column (the old address redirects there).
DRAFT_COLUMN = "/dashboard/orders?status=draft"


# -- helpers --------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """Every form of a page with what a browser would send (buttons aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, list[list[str]]] = {}
        self._fields: list[list[str]] | None = None
        self._select: list[str] | None = None
        self._first_option: str | None = None
        self._textarea: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._fields = self.forms.setdefault(a.get("action", ""), [])
        elif self._fields is None:
            return
        elif tag == "input" and (
            a.get("type") in ("hidden", "text") or (a.get("type") == "checkbox" and "checked" in a)
        ):
            self._fields.append([a["name"], a.get("value", "")])
        elif tag == "select":
            self._select = [a["name"], ""]
            self._first_option = None
            self._fields.append(self._select)
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value", "")
                self._select[1] = self._first_option
            if "selected" in a:
                self._select[1] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = [a["name"], ""]
            self._fields.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


class _Text(HTMLParser):
    """The text a reader sees in one element (by id) and in the selects' chosen options."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.text: list[str] = []
        self.selected: dict[str, str] = {}
        self._select: str | None = None
        self._option: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self.depth:
            self.depth += 1
        elif a.get("id") == self.element_id:
            self.depth = 1
        if tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select is not None and "selected" in a:
            self._option = True
            self.selected[self._select] = ""

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
        if tag == "option":
            self._option = False
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)
        if self._option and self._select is not None:
            self.selected[self._select] += data


def problems_of(html: str) -> list[str]:
    """The problems listed at the top of the page, as read: ``label: message``."""
    found = re.search(r'<div class="problems".*?</div>', html, re.S)
    assert found is not None, "no problems listed"
    return [
        unescape(re.sub(r"<[^>]+>", "", item)).strip()
        for item in re.findall(r"<li>(.*?)</li>", found[0], re.S)
    ]


def shown_choices(html: str) -> dict[str, str]:
    """Each select's chosen option as the page shows it."""
    parser = _Text("")
    parser.feed(html)
    return {name: text.strip() for name, text in parser.selected.items()}


def form_of(html: str, action: str) -> list[list[str]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms[action]


def changed(fields: list[list[str]], **changes: str) -> list[tuple[str, str]]:
    """The form's fields with some values replaced (``rx__right_eye__axis`` names a dotted
    field); a name the form lacks is added."""
    wanted = {name.replace("__", "."): value for name, value in changes.items()}
    out = [(name, wanted.pop(name, value)) for name, value in fields]
    return out + list(wanted.items())


def without(fields: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if k != name]


def sign_in(client, email: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORDS[email], "csrf_token": csrf[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def row_id(public: str) -> uuid.UUID:
    return uuid.UUID(hex=public.split("_", 1)[1])


def create_draft(lab, world, **changes: Any) -> uuid.UUID:
    response = lab.post("/v1/orders", json=valid_body(world, mode="draft", **changes))
    assert response.status_code == 200, response.text
    return row_id(response.json()["id"])


def order_of(db, order_id: uuid.UUID) -> Order:
    with Session(db.engine) as session:
        order = session.get(Order, order_id)
    assert order is not None
    return order


def count(db, model: Any) -> int:
    with db.reading() as reader:
        return int(reader.scalar(select(func.count()).select_from(model)) or 0)


def post_form(client, order_id: uuid.UUID, fields: list[tuple[str, str]], action: str = "save"):
    return client.post(
        f"{DRAFTS}/{order_id}", data=_as_form([*fields, ("action", action)]), follow_redirects=False
    )


def _as_form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


@pytest.fixture
def staff(client, lab_world):
    sign_in(client, STAFF)
    return client


def review(client, order_id: uuid.UUID) -> tuple[str, list[list[str]]]:
    page = client.get(f"{DRAFTS}/{order_id}")
    assert page.status_code == 200, page.text
    return page.text, form_of(page.text, f"{DRAFTS}/{order_id}")


# -- signing in and tenancy -----------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, lab, lab_world):
    order_id = create_draft(lab, lab_world)
    page = client.get(f"{DRAFTS}/{order_id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fdashboard%2Fdrafts%2F{order_id}"
    assert client.get(DRAFTS, follow_redirects=False).headers["location"] == DRAFT_COLUMN
    listing = client.get(DRAFT_COLUMN, follow_redirects=False)
    assert listing.headers["location"] == "/login?next=%2Fdashboard%2Forders%3Fstatus%3Ddraft"
    # Signing in comes back to the draft.
    login = client.get(page.headers["location"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf is not None
    back = client.post(
        "/login",
        data={
            "email": STAFF,
            "password": PASSWORDS[STAFF],
            "csrf_token": csrf[1],
            "next": f"/dashboard/drafts/{order_id}",
        },
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/dashboard/drafts/{order_id}"


def test_the_list_shows_the_practice_drafts_only(client, lab, lab_world, db):
    first = order_of(db, create_draft(lab, lab_world))
    second = order_of(db, create_draft(lab, lab_world, lens=DELETE))
    submitted = lab.post("/v1/orders", json=valid_body(lab_world)).json()
    submitted_number = order_of(db, row_id(submitted["id"])).number
    with db.transaction() as s:
        foreign = place_order(
            s,
            factories.actor(lab_world.other_practice_id),
            NewOrder(status=OrderStatus.DRAFT, type="other"),
        ).number
    sign_in(client, STAFF)
    page = client.get(DRAFTS)
    assert page.status_code == 200
    assert first.number in page.text and second.number in page.text
    assert f'href="/dashboard/drafts/{first.id}"' in page.text
    assert "Precision Optical Lab" in page.text and "Ada Lovelace" in page.text
    assert submitted_number not in page.text and foreign not in page.text
    assert "Harbor Optical" in page.text and "Hilltop Vision" not in page.text

    client.cookies.clear()
    sign_in(client, OTHER_STAFF)
    theirs = client.get(DRAFTS).text
    assert foreign in theirs and first.number not in theirs


def test_another_practice_an_unknown_id_and_a_submitted_order_are_not_found(
    client, lab, lab_world, db
):
    order_id = create_draft(lab, lab_world)
    submitted = row_id(lab.post("/v1/orders", json=valid_body(lab_world)).json()["id"])
    sign_in(client, OTHER_STAFF)
    html = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert csrf is not None
    assert client.get(f"{DRAFTS}/{order_id}").status_code == 404
    assert post_form(client, order_id, [("csrf_token", csrf[1])]).status_code == 404
    discard = client.post(
        f"{DRAFTS}/{order_id}/discard", data={"csrf_token": csrf[1]}, follow_redirects=False
    )
    assert discard.status_code == 404
    assert order_of(db, order_id).status == "draft"

    client.cookies.clear()
    sign_in(client, STAFF)
    assert client.get(f"{DRAFTS}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{DRAFTS}/not-an-id").status_code == 404
    gone = client.get(f"{DRAFTS}/{submitted}")
    assert gone.status_code == 404 and "No such draft" in gone.text


# -- the page -------------------------------------------------------------------------------


def test_the_page_shows_the_whole_order(staff, lab, lab_world, testdata):
    tracing = (testdata / "oma" / "lens_protocol-R360_1.oma").read_text()
    order_id = create_draft(lab, lab_world, **{"frame.tracing": tracing})
    html, fields = review(staff, order_id)
    values = {name: value for name, value in fields if name not in ("lens.coats", "services")}
    assert values["patient.first_name"] == "Ada" and values["patient.last_name"] == "Lovelace"
    assert values["patient.phone_number"] == "(555) 123-4567"  # as the order-entry tool sent it
    assert values["rx.right_eye.sphere"] == "-2.25" and values["rx.right_eye.axis"] == "90"
    assert values["rx.right_eye.cylinder"] == "-0.75" and values["rx.right_eye.add"] == "+2"
    assert values["rx.right_eye.horizontal_prism.power"] == "1"
    assert values["rx.right_eye.horizontal_prism.direction"] == "in"
    assert values["rx.right_eye.vertical_prism.direction"] == "up"
    assert values["rx.right_eye.seg_height"] == "18" and values["rx.left_eye.pd"] == "31.5"
    assert values["frame.manufacturer"] == "Ray-Ban" and values["frame.lens_ed"] == "55.5"
    assert values["frame.handling"] == "Frame to follow" and values["frame.material"] == "zyl"
    assert values["mounting_option"] == "Edged & mounted"
    assert values["shipping.city"] == "Portland" and values["shipping.state"] == "OR"
    assert values["special_instructions"] == "Match the old pair's tint."
    assert values["lens.style"] == str(row_id(lab_world.ids["sv"]))
    assert values["lens.tint"] == "Gray"
    coats = {value for name, value in fields if name == "lens.coats"}
    assert coats == {str(row_id(lab_world.ids[c])) for c in ("ar", "blue", "mirror")}
    assert [v for n, v in fields if n == "services"] == ["Roll & polish edges"]
    # Names, not ids, are what the page shows.
    for name in ("Essential Single Vision", "Polycarbonate", "Clear", "Basic AR", "Gray"):
        assert name in html
    assert "Precision Optical Lab · PX-1" in html
    # The tracing, drawn.
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'data-side="R"' in html
    # The layout: product, navigation, who is signed in, sign out with a CSRF token.
    assert 'aria-current="page">Orders</a>' in html and STAFF.lower() in html
    assert form_of(html, "/logout")[0][0] == "csrf_token"
    assert "Submit to lab" in html and "Discard draft" in html


def test_an_invalid_axis_is_shown_next_to_the_field_and_nothing_is_written(
    staff, lab, lab_world, db
):
    order_id = create_draft(lab, lab_world)
    before = order_of(db, order_id)
    audits = count(db, AuditEntry)
    _html, fields = review(staff, order_id)
    response = post_form(
        staff, order_id, changed(fields, rx__right_eye__axis="181", frame__model="RB9999")
    )
    assert response.status_code == 400
    assert re.search(
        r'aria-label="Right eye \(OD\) axis" id="f-rx.right_eye.axis" value="181"'
        r'[^>]*aria-invalid="true"',
        response.text,
    )
    error = re.search(r'<span class="error" id="e-rx.right_eye.axis">([^<]+)</span>', response.text)
    assert error is not None and "180" in error[1]
    assert "nothing was saved" in response.text
    assert 'value="RB9999"' in response.text  # what was typed stays in the form
    after = order_of(db, order_id)
    assert after.rx_snapshot == before.rx_snapshot and after.frame_details == before.frame_details
    assert after.updated_at == before.updated_at and count(db, AuditEntry) == audits

    typo = post_form(staff, order_id, changed(fields, rx__right_eye__axis="ninety"))
    assert typo.status_code == 400 and "Enter a whole number" in typo.text
    assert order_of(db, order_id).rx_snapshot == before.rx_snapshot


def test_a_valid_edit_is_saved(staff, lab, lab_world, db):
    order_id = create_draft(lab, lab_world)
    events = count(db, Event)
    _html, fields = review(staff, order_id)
    edits = changed(
        fields,
        rx__right_eye__axis="95",
        rx__left_eye__cylinder="-0.5",
        rx__left_eye__axis="180",
        frame__model="RB5155",
        special_instructions="Polish the edges.",
    )
    response = post_form(staff, order_id, without(edits, "services"))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{DRAFTS}/{order_id}"
    order = order_of(db, order_id)
    assert order.status == "draft"
    assert order.rx_snapshot["right"]["axis"] == 95
    assert order.rx_snapshot["left"]["cylinder"] == "-0.5"
    assert order.frame_details["model"] == "RB5155" and order.frame_details["brand"] == "Ray-Ban"
    assert order.special_instructions == "Polish the edges."
    assert order.lab_services is None
    assert order.lens["coats"] == ["Basic AR", "Blue Filter", "Silver Mirror"]
    assert count(db, Event) == events  # drafts are not announced
    page = staff.get(f"{DRAFTS}/{order_id}")
    assert "Draft saved." in page.text and 'value="95"' in page.text


def test_submit_sends_the_draft_to_the_lab(staff, lab, lab_world, db, issue_token):
    order_id = create_draft(lab, lab_world, lens=DELETE)
    _html, fields = review(staff, order_id)
    # The submit rules: an Rx order needs a lens. Nothing changes while it is missing.
    refused = post_form(staff, order_id, fields, action="submit")
    assert refused.status_code == 400
    assert (
        '<a href="#f-lens">Lens</a>: Choose the lens (style, material and colour) before'
        " submitting an Rx order." in refused.text
    )
    assert '<fieldset id="f-lens">' in refused.text
    assert order_of(db, order_id).status == "draft"
    assert count(db, Event) == 1  # order.created only

    lens = changed(
        fields,
        lens__style=str(row_id(lab_world.ids["sv"])),
        lens__material=str(row_id(lab_world.ids["poly"])),
        lens__color=str(row_id(lab_world.ids["clear"])),
    )
    response = post_form(staff, order_id, lens, action="submit")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/dashboard/orders/{order_id}"
    with Session(db.engine) as s:
        staff_user = s.scalar(select(User).where(User.email == STAFF.lower()))
        order = s.get(Order, order_id)
        history = s.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == order_id)
            .order_by(OrderStatusChange.id)
        ).all()
        events = s.scalars(select(Event).where(Event.type == "order.status_changed")).all()
    assert order.status == "received" and order.submitted_at is not None
    assert order.submitted_by_user_id == staff_user.id
    assert order.lens["style"] == "Essential Single Vision" and order.lens["color"] == "Clear"
    assert [(h.from_status, h.to_status, h.via) for h in history][-1] == (
        "draft",
        "received",
        "dashboard",
    )
    assert history[-1].actor_user_id == staff_user.id
    assert [(e.data["id"], e.data["previous_status"], e.data["status"]) for e in events] == [
        (str(order_id), "draft", "received")
    ]
    listing = staff.get(DRAFTS)
    assert f"Order {order.number} was submitted to the lab." in listing.text
    assert f"/dashboard/drafts/{order_id}" not in listing.text
    assert staff.get(f"{DRAFTS}/{order_id}").status_code == 404

    token = issue_token(lab_world.practice_id, "orders:read")
    partner = staff.get(
        f"/api/v1/partner/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert partner.status_code == 200, partner.text
    body = partner.json()
    assert body["status"] == "pending"
    assert body["lens"]["style"] == "Essential Single Vision"
    assert STAFF.lower() in body["status_history"][-1]["by"]


def test_discard_cancels_the_draft(staff, lab, lab_world, db):
    order_id = create_draft(lab, lab_world)
    html, _fields = review(staff, order_id)
    discard = form_of(html, f"{DRAFTS}/{order_id}/discard")
    response = staff.post(
        f"{DRAFTS}/{order_id}/discard", data=dict(discard), follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == DRAFT_COLUMN
    assert order_of(db, order_id).status == "cancelled"
    with db.reading() as reader:
        changes = reader.execute(
            select(Event.type, Event.data).where(Event.type == "order.status_changed")
        ).all()
    assert [(t, d["status"]) for t, d in changes] == [("order.status_changed", "cancelled")]
    assert "was discarded" in staff.get(DRAFTS).text
    assert staff.get(f"{DRAFTS}/{order_id}").status_code == 404


def test_forms_without_their_csrf_token_are_refused(staff, lab, lab_world, db):
    order_id = create_draft(lab, lab_world)
    _html, fields = review(staff, order_id)
    edits = without(changed(fields, rx__right_eye__axis="95"), "csrf_token")
    assert post_form(staff, order_id, edits).status_code == 403
    assert post_form(staff, order_id, edits, action="submit").status_code == 403
    wrong = [*edits, ("csrf_token", "forged")]
    assert post_form(staff, order_id, wrong).status_code == 403
    discard = staff.post(f"{DRAFTS}/{order_id}/discard", data={}, follow_redirects=False)
    assert discard.status_code == 403
    order = order_of(db, order_id)
    assert order.status == "draft" and order.rx_snapshot["right"]["axis"] == 90


# -- what staff read: labels, the trade's words, every problem at once ---------------------


def test_every_problem_is_reported_at_once_in_the_form_words_and_the_form_keeps_what_was_typed(
    staff, lab, lab_world, db
):
    """A typo the form cannot read (the axis) and rules only the service knows (a blank
    name, a frame material no lab takes, a coat the style does not offer, a redo without its
    data) come back together, each labelled as the page labels its field."""
    order_id = create_draft(lab, lab_world)
    before = order_of(db, order_id)
    _html, fields = review(staff, order_id)
    typed = changed(
        fields,
        rx__right_eye__axis="ninety",
        rx__left_eye__sphere="-1.37x",
        patient__first_name="",
        frame__model="RB9999",
        frame__material="acetate",
        submission_type="redo",
        special_instructions="Keep the old tint.",
    )
    response = post_form(staff, order_id, typed)
    assert response.status_code == 400
    listed = problems_of(response.text)
    assert listed == [
        "First name is required.",
        "Right eye (OD) axis: Enter a whole number, e.g. 90.",
        "Left eye (OS) sphere: Enter a number, e.g. -2.25.",
        "Frame material: Choose frame material from the list.",
        "Redo: A redo needs its type, reason and the earlier order's reference.",
    ]
    assert f"{len(listed)} problems: nothing was saved" in response.text
    # No field path or contract value is shown to the reader.
    for item in listed:
        assert "rx." not in item and "_" not in item and "GET /v1" not in item
    # Each problem is next to its field too, and the link leads to it.
    assert re.search(
        r'id="f-rx.left_eye.sphere" value="-1.37x"[^>]*aria-invalid="true"', response.text
    )
    assert '<a href="#f-frame.material">Frame material</a>' in response.text
    for target in re.findall(r'<li><a href="#([^"]+)"', response.text):
        assert f'id="{target}"' in response.text
    # What was typed stays, the unreadable values included.
    values = dict(form_of(response.text, f"{DRAFTS}/{order_id}"))
    assert values["rx.right_eye.axis"] == "ninety" and values["frame.model"] == "RB9999"
    assert values["patient.first_name"] == "" and values["submission_type"] == "redo"
    assert values["special_instructions"] == "Keep the old tint."
    assert values["frame.material"] == "acetate"
    assert shown_choices(response.text)["frame.material"] == "Acetate (not offered)"
    assert shown_choices(response.text)["submission_type"] == "Redo (remake)"
    after = order_of(db, order_id)
    assert after.frame_details == before.frame_details and after.updated_at == before.updated_at

    # The service's rules also run on submit while the form has an unreadable field.
    submitted = post_form(
        staff, order_id, changed(fields, rx__right_eye__axis="ninety", frame__model=""), "submit"
    )
    assert submitted.status_code == 400
    assert problems_of(submitted.text) == [
        "Right eye (OD) axis: Enter a whole number, e.g. 90.",
        "Frame model: Needed to submit the job to the lab.",
    ]
    assert order_of(db, order_id).status == "draft"
    assert count(db, Event) == 1  # order.created only: the refused submit left nothing


def test_choices_are_shown_in_the_trade_words(staff, lab, lab_world):
    order_id = create_draft(lab, lab_world)
    html, _fields = review(staff, order_id)
    chosen = shown_choices(html)
    assert chosen["frame.material"] == "Zyl (acetate)"
    assert chosen["submission_type"] == "New job"
    assert chosen["order_type"] == "Rx (prescription lenses)"
    assert chosen["rx.right_eye.horizontal_prism.direction"] == "BI"
    assert chosen["rx.right_eye.vertical_prism.direction"] == "BU"
    assert chosen["lab_account"] == "Precision Optical Lab · PX-1"
    assert chosen["lens.style"] == "Essential Single Vision"
    assert ">Drilled and grooved rimless<" in html and ">Multi-pair<" in html
    for code in ("drilled_and_grooved_rimless", "multi_pair", "three_d_printed"):
        assert f">{code}<" not in html
    assert 'aria-label="Left eye (OS) near PD"' in html
    assert '<label for="f-frame.eye_size">Eye size (A, mm)</label>' in html


def test_a_lens_stored_by_name_is_shown_by_the_lab_items_of_those_names(staff, lab_world, db):
    """Orders from other channels carry the lens by name only: the form shows the lab's
    style, material and colour of those names, and a name the lab lacks as not offered."""
    with db.reading() as reader:
        from optihub.reads import catalog

        account = next(
            a
            for a in catalog.lab_accounts(reader, lab_world.practice_id)
            if a.account_number == "PX-1"
        )
    lab_fields = {
        "lab_id": account.lab_id,
        "lab_account_number": "PX-1",
        "lab_order_type": "rx",
        "submission_type": "new",
    }
    with db.transaction() as s:
        named = place_order(
            s,
            factories.actor(lab_world.practice_id),
            NewOrder(
                status=OrderStatus.DRAFT,
                lens={
                    "style": "Comfort Progressive",
                    "material": "Polycarbonate",
                    "color": "Clear",
                    "coats": ["Basic AR"],
                },
                lab_fields=lab_fields,
            ),
        ).id
        unknown = place_order(
            s,
            factories.actor(lab_world.practice_id),
            NewOrder(
                status=OrderStatus.DRAFT,
                lens={"style": "Mystery Lens", "material": "Glass"},
                lab_fields=lab_fields,
            ),
        ).id
    html, fields = review(staff, named)
    values = {n: v for n, v in fields if n != "lens.coats"}
    assert values["lens.style"] == str(row_id(lab_world.ids["prog"]))
    assert values["lens.material"] == str(row_id(lab_world.ids["poly"]))
    assert [v for n, v in fields if n == "lens.coats"] == [str(row_id(lab_world.ids["ar"]))]
    chosen = shown_choices(html)
    assert chosen["lens.style"] == "Comfort Progressive"
    assert chosen["lens.material"] == "Polycarbonate" and chosen["lens.color"] == "Clear"

    html, _fields = review(staff, unknown)
    chosen = shown_choices(html)
    assert chosen["lens.style"] == "Mystery Lens (not offered)"
    assert chosen["lens.material"] == "Glass (not offered)"


def test_the_choices_follow_the_lab_style_and_material(client, staff, lab, lab_world):
    """What the page's script asks as the selects change: the options of the lab-dependent
    fields for the values given, by the names staff read."""
    order_id = create_draft(lab, lab_world, lens=DELETE)
    html, fields = review(staff, order_id)
    values = {n: v for n, v in fields if n not in ("lens.coats", "services")}
    precision = values["lab_account"]
    url = f"{DRAFTS}/{order_id}/choices"

    def names(response, field):
        return [label for _value, label, _offered in response.json()["fields"][field]]

    progressive = staff.get(
        url, params={"lab_account": precision, "lens.style": str(row_id(lab_world.ids["prog"]))}
    )
    assert progressive.status_code == 200
    assert progressive.headers["content-type"].startswith("application/json")
    assert progressive.json()["lab_name"] == "Precision Optical Lab"
    assert names(progressive, "lens.style") == ["Comfort Progressive", "Essential Single Vision"]
    assert names(progressive, "lens.material") == ["Polycarbonate"]
    assert names(progressive, "lens.color") == []  # no material chosen yet
    assert names(progressive, "mounting_option") == ["Edged & mounted", "Uncut"]
    assert names(progressive, "order_type") == ["Rx (prescription lenses)", "Frame only"]

    single = staff.get(
        url,
        params={
            "lab_account": precision,
            "lens.style": str(row_id(lab_world.ids["sv"])),
            "lens.material": str(row_id(lab_world.ids["poly"])),
        },
    )
    assert names(single, "lens.material") == ["CR-39 Plastic", "Polycarbonate"]
    assert names(single, "lens.color") == ["Clear"]
    assert names(single, "lens.coats") == ["Basic AR", "Blue Filter", "Silver Mirror"]
    assert names(single, "lens.tint") == ["Gray"]

    # Another lab: its own styles; the style chosen at the first is kept, marked.
    other = next(
        v for v, _l in re.findall(r'<option value="([^"]+)"()', html) if v.endswith("/C-9")
    )
    coastal = staff.get(
        url, params={"lab_account": other, "lens.style": str(row_id(lab_world.ids["sv"]))}
    )
    assert coastal.json()["lab_name"] == "Coastal Lens Works"
    offered = coastal.json()["fields"]["lens.style"]
    assert [(label, ok) for _v, label, ok in offered] == [
        ("Coastal SV", True),
        ("A choice of another lab (not offered)", False),
    ]

    # Only the practice's own accounts: another practice's lab account offers nothing.
    hilltop = f"{row_id(lab_world.labs['coastal'])}/HILL-1"
    foreign = staff.get(url, params={"lab_account": hilltop})
    assert foreign.json()["lab_name"] is None and names(foreign, "lens.style") == []

    # Another practice's staff and visitors who are not signed in see nothing of it.
    client.cookies.clear()
    assert (
        client.get(url, params={"lab_account": precision}, follow_redirects=False).status_code
        == 303
    )
    sign_in(client, OTHER_STAFF)
    assert client.get(url, params={"lab_account": precision}).status_code == 404


def test_every_demo_draft_saves_unchanged(client, db):
    """The demo's drafts open with exactly what is stored (lab, account, submission and
    order type, frame, lens by name) and save unchanged: 303, nothing refused, nothing
    altered."""
    with db.transaction() as s:
        seed_demo(s)
    sign_in(client, DEMO_EMAIL)
    with db.reading() as reader:
        drafts = list(reader.scalars(select(Order.id).where(Order.status == "draft")))
    assert len(drafts) == 20
    refused = {}
    for order_id in drafts:
        before = order_of(db, order_id)
        html, fields = review(client, order_id)
        chosen = shown_choices(html)
        assert "not offered" not in html
        assert chosen["lab_account"].startswith(("Precision Optical Lab · ", "Northshore"))
        assert chosen["order_type"] == "Rx (prescription lenses)"
        if before.lens is not None:
            assert chosen["lens.style"] == before.lens["style"]
            assert chosen["lens.material"] == before.lens["material"]
            assert chosen["lens.color"] == before.lens["color"]
        response = post_form(client, order_id, [(n, v) for n, v in fields])
        if response.status_code != 303:
            refused[before.number] = problems_of(response.text)
            continue
        after = order_of(db, order_id)
        for column in (
            "lens",
            "frame_details",
            "rx_snapshot",
            "lab_id",
            "lab_account_number",
            "submission_type",
            "lab_order_type",
            "mounting_option",
            "lab_services",
            "patient_id",
            "redo_reference",
            "multi_pair_reference",
        ):
            assert getattr(after, column) == getattr(before, column), column
    assert refused == {}


def test_no_field_or_value_is_named_by_its_path_or_code():
    """Every field the form has, and every contract value it offers, has words for staff."""
    from optihub.dashboard import draft_words
    from optihub.errors import FieldError
    from optihub.services.lab_orders import FRAME_MATERIALS, SUBMISSION_TYPES

    for path in draft_words.FORM_ORDER:
        shown = draft_words.label(path)
        assert shown and "_" not in shown and "." not in shown and shown != path, path
    base = draft_words.label("rx.left_eye.vertical_prism.direction")
    assert base == "Left eye (OS) vertical prism base"
    assert draft_words.label("lens.coats.2") == "Coats" and draft_words.label("account_number") == (
        "Lab and account"
    )
    for value in (*FRAME_MATERIALS, *SUBMISSION_TYPES, "rx", "stock", "sunglass"):
        for field in ("frame.material", "submission_type", "order_type"):
            assert "_" not in draft_words.option_label(field, value)
    assert draft_words.option_label("frame.material", "zyl") == "Zyl (acetate)"
    assert draft_words.option_label("mounting_option", "Edged & mounted") == "Edged & mounted"
    # The service's messages for integrators, said for staff.
    said = draft_words.for_staff(
        FieldError("lens.style", "No lens style style_1f at this lab (GET /v1/catalogs/styles).")
    )
    assert said == "The chosen lab does not offer this lens style."
    said = draft_words.for_staff(
        FieldError("submission_type", "Submission type must be one of: new, redo, multi_pair.")
    )
    assert said == "Submission type must be one of: New job, Redo (remake), Multi-pair."
