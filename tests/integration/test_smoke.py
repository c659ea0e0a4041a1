from tests.conftest import TEAMS_SCOPES, Demo


def test_password_grant_then_exchange(demo: Demo) -> None:
    body = demo.password_token("alice", TEAMS_SCOPES)
    assert body["token_type"] == "Bearer"
    assert "refresh_token" in body and "id_token" in body
