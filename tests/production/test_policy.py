"""Policy documents (/admin/production-run-policy) and the pure auto-approval decision."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.production.policy import (
    AutoApprovalFacts,
    AutoApprovalRules,
    decide_auto_approval,
    route_templates,
)
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import approve, create_run

URL = "/admin/production-run-policy"


def _policy(admin: TestClient) -> dict[str, Any]:
    response = admin.get(URL)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["production_run_policy"]
    return body


class TestPolicyEndpoints:
    def test_defaults_are_shown(self, admin: TestClient) -> None:
        body = _policy(admin)
        assert body["lifecycle"]["version"] == 0
        assert body["lifecycle"]["allowed_from"]["approve"] == ["draft", "pending_review"]
        assert set(body["lifecycle"]["allowed_from"]["cancel"]) == {
            "draft",
            "pending_review",
            "approved",
            "sent_to_partner",
            "in_progress",
            "awaiting_reassignment",
        }
        assert body["auto_approval"] == {
            "enabled": True,
            "design_statuses": ["Commerce_Ready"],
            "require_single_partner_route": True,
            "require_templates": True,
            "version": 0,
            "updated_at": None,
            "updated_by": None,
        }
        assert "route_definition" in body

    def test_put_lifecycle_changes_transitions(self, admin: TestClient) -> None:
        response = admin.put(
            URL, json={"lifecycle": {"allowed_from": {"approve": ["pending_review"]}}}
        )
        assert response.status_code == 200, response.text
        body = response.json()["production_run_policy"]
        assert body["lifecycle"]["version"] == 1
        assert body["lifecycle"]["allowed_from"]["approve"] == ["pending_review"]
        assert body["lifecycle"]["updated_by"]
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        # Drafts cannot be created through the API; check the refusal text names the policy.
        assert admin.post(f"/admin/production-runs/{run['id']}/approve", json={}).status_code == 200
        cancel_only_pending = {"lifecycle": {"allowed_from": {"cancel": ["pending_review"]}}}
        assert admin.put(URL, json=cancel_only_pending).status_code == 200
        refused = admin.post(f"/admin/production-runs/{run['id']}/cancel", json={})
        body = assert_problem(refused, 409, "invalid_status")
        assert "allowed from: pending_review" in body["detail"]

    def test_put_auto_approval(self, admin: TestClient) -> None:
        rules = {
            "enabled": False,
            "design_statuses": ["Commerce_Ready", "Approved"],
            "require_single_partner_route": True,
            "require_templates": False,
        }
        body = admin.put(URL, json={"auto_approval": rules}).json()["production_run_policy"]
        assert body["auto_approval"]["enabled"] is False
        assert body["auto_approval"]["design_statuses"] == ["Commerce_Ready", "Approved"]
        assert body["auto_approval"]["version"] == 1
        assert body["lifecycle"]["version"] == 0

    def test_version_conflict_is_409_and_changes_nothing(self, admin: TestClient) -> None:
        first = {"auto_approval": {"enabled": False}, "version": 0}
        assert admin.put(URL, json=first).status_code == 200
        stale = {"auto_approval": {"enabled": True}, "version": 0}
        body = assert_problem(admin.put(URL, json=stale), 409, "policy_version_conflict")
        assert "version" in body["detail"]
        assert _policy(admin)["auto_approval"]["enabled"] is False
        fresh = {"auto_approval": {"enabled": True}, "auto_approval_version": 1}
        assert (
            admin.put(URL, json=fresh).json()["production_run_policy"]["auto_approval"]["version"]
            == 2
        )

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ({"lifecycle": {"allowed_from": {"fly": ["draft"]}}}, "unknown action 'fly'"),
            ({"lifecycle": {"allowed_from": {"approve": ["nowhere"]}}}, "unknown status"),
            ({"lifecycle": {"allowed_from": {"cancel": ["completed"]}}}, "terminal status"),
            ({"lifecycle": {"allowed_from": {"approve": []}}}, "must not be empty"),
            ({"lifecycle": {"allowed_from": "all"}}, "allowed_from must be an object"),
            ({"lifecycle": {"extra": 1}}, "unknown lifecycle keys"),
            ({"auto_approval": {"enabled": "yes"}}, "true or false"),
            ({"auto_approval": {"design_statuses": ["Shiny"]}}, "unknown design status"),
            ({"auto_approval": {"colour": "red"}}, "unknown auto_approval keys"),
            ({}, "send lifecycle"),
        ],
    )
    def test_bad_documents_are_422(
        self, admin: TestClient, body: dict[str, Any], says: str
    ) -> None:
        problem = assert_problem(admin.put(URL, json=body), 422)
        assert says in problem["detail"]
        assert _policy(admin)["lifecycle"]["version"] == 0

    def test_admin_only(self, client: TestClient, admin: TestClient) -> None:
        assert_problem(client.get(URL), 401)
        partner = catalog.create_partner(admin, client)
        assert_problem(client.get(URL, headers=partner.headers), 403)
        assert_problem(client.put(URL, json={}, headers=partner.headers), 403)


RULES = AutoApprovalRules()
READY = AutoApprovalFacts(
    run_status="pending_review",
    design_status="Commerce_Ready",
    linked_partners=(("partner_a", "active"),),
    template_names=("Cutting",),
)


def _facts(**changes: Any) -> AutoApprovalFacts:
    values = {
        "run_status": READY.run_status,
        "design_status": READY.design_status,
        "linked_partners": READY.linked_partners,
        "route_partner_id": READY.route_partner_id,
        "template_names": READY.template_names,
        "unknown_templates": READY.unknown_templates,
    }
    values.update(changes)
    return AutoApprovalFacts(**values)


class TestAutoApprovalDecision:
    def test_ready_run_is_auto_approvable(self) -> None:
        decision = decide_auto_approval(RULES, READY)
        assert decision.auto_approvable
        assert decision.reasons == ()
        assert decision.partner_id == "partner_a"
        assert decision.template_names == ("Cutting",)

    @pytest.mark.parametrize(
        ("rules", "facts", "reason"),
        [
            (AutoApprovalRules(enabled=False), READY, "disabled"),
            (RULES, _facts(run_status="approved"), "only pending runs"),
            (RULES, _facts(design_status="Approved"), "needs one of: Commerce_Ready"),
            (RULES, _facts(linked_partners=()), "0 linked partners"),
            (
                RULES,
                _facts(linked_partners=(("partner_a", "active"), ("partner_b", "active"))),
                "2 linked partners",
            ),
            (RULES, _facts(linked_partners=(("partner_a", "inactive"),)), "inactive"),
            (RULES, _facts(template_names=()), "no template intent"),
            (RULES, _facts(unknown_templates=("Cutting",)), "unknown task templates: Cutting"),
            (
                RULES,
                _facts(route_partner_id="partner_z"),
                "partner_z is not linked",
            ),
        ],
    )
    def test_each_rule_says_why(
        self, rules: AutoApprovalRules, facts: AutoApprovalFacts, reason: str
    ) -> None:
        decision = decide_auto_approval(rules, facts)
        assert not decision.auto_approvable
        assert any(reason in r for r in decision.reasons), decision.reasons

    def test_explicit_route_allows_several_partners_when_permitted(self) -> None:
        rules = AutoApprovalRules(require_single_partner_route=False)
        facts = _facts(
            linked_partners=(("partner_a", "active"), ("partner_b", "active")),
            route_partner_id="partner_b",
        )
        decision = decide_auto_approval(rules, facts)
        assert decision.auto_approvable and decision.partner_id == "partner_b"

    def test_templates_optional_when_permitted(self) -> None:
        rules = AutoApprovalRules(require_templates=False)
        assert decide_auto_approval(rules, _facts(template_names=())).auto_approvable

    def test_all_reasons_are_collected(self) -> None:
        facts = _facts(design_status="Conceptual", linked_partners=(), template_names=())
        assert len(decide_auto_approval(RULES, facts).reasons) == 3

    def test_route_templates(self) -> None:
        assert route_templates({"default_templates": ["A", "B", "A"]}) == ("A", "B")
        assert route_templates(
            {"route": {"template_names": ["R"]}, "default_templates": ["A"]}
        ) == ("R",)
        assert route_templates({"default_templates": "A"}) == ()
        assert route_templates(None) == ()


class TestPolicyInDetail:
    def test_detail_explains_why_a_run_waits(self, admin: TestClient) -> None:
        design = catalog.create_design(admin, status="Approved")
        run = create_run(admin, design_id=design["id"])
        policy = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]["policy"]
        assert policy["auto_approvable"] is False
        assert any("Approved" in r for r in policy["reasons"])
        assert any("linked partners" in r for r in policy["reasons"])

    def test_detail_shows_ready_route(self, admin: TestClient, client: TestClient) -> None:
        from tests.factories.tasks import ensure_templates

        ensure_templates(admin, ["Cutting"])
        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(
            admin, status="Commerce_Ready", metadata={"default_templates": ["Cutting"]}
        )
        linker = create_run(admin, design_id=design["id"], quantity=1)
        approve(admin, linker["id"], assignments=[{"partner_id": partner.id, "quantity": 1}])
        run = create_run(admin, design_id=design["id"])
        policy = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]["policy"]
        assert policy == {
            "auto_approvable": True,
            "reasons": [],
            "partner_id": partner.id,
            "template_names": ["Cutting"],
        }
