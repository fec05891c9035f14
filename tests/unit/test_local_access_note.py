"""What `make api` says about access when it starts, and how its auth mode is switched on."""

import pytest

from local_stack.commands.server import access_note
from local_stack.services import authorizer


def test_the_local_api_says_it_is_open_and_what_the_deployed_stack_requires():
    # Given the local stack's outputs (the template's default ApiAuth)
    note = access_note({"ApiAuthMode": "COGNITO", "ApiUrl": "http://127.0.0.1:3000"})

    # Then the startup output says the local API checks nothing, unlike the deployed one
    assert "open locally" in note
    assert "no authentication and no API key" in note
    assert "ApiAuth=COGNITO guards every route" in note


def test_it_names_the_mode_the_template_would_deploy():
    assert "ApiAuth=IAM" in access_note({"ApiAuthMode": "IAM"})


def test_make_api_apiauth_cognito_turns_the_local_authorizer_on():
    # `make api ApiAuth=COGNITO` sets LOCAL_API_AUTH for the server
    assert authorizer.requested_parameters({"LOCAL_API_AUTH": "cognito"}) == {"ApiAuth": "COGNITO"}
    assert authorizer.enabled({"ApiAuth": "COGNITO"})
    # plain `make api`: the open local API, whatever the template's default is
    assert authorizer.requested_parameters({}) == {}
    assert not authorizer.enabled({})


def test_a_mode_the_local_api_cannot_emulate_is_refused():
    with pytest.raises(SystemExit, match="only ApiAuth=COGNITO"):
        authorizer.requested_parameters({"LOCAL_API_AUTH": "IAM"})
