from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from atelier.platform.schemas import InputSchema, OutputSchema, Password

LoginEmail = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenRequest(InputSchema):
    email: LoginEmail
    password: LoginPassword


class PasswordChange(InputSchema):
    current_password: LoginPassword
    new_password: Password


class AdminTokenResponse(OutputSchema):
    token: str
    token_type: str = "bearer"


class PartnerTokenResponse(OutputSchema):
    token: str
    token_type: str = "bearer"
    partner_id: str
