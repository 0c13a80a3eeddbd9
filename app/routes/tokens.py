"""`/v1/tokens`: finance lists and revokes API tokens (SPEC "Security").

Tokens are created with `hourglass token create`: a token is shown once, and an API that
created them would have to keep the secret in its replay of the Idempotency-Key.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.auth.tokens import TokenRead, list_tokens, revoke_token, to_read
from app.dependencies import Finance, SessionDep
from app.pagination import Page, PageParams, make_page

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.get("", response_model=Page[TokenRead])
def get_tokens(session: SessionDep, _: Finance, page: PageParams = Depends()) -> Page[TokenRead]:
    rows = list_tokens(session, after_id=page.after_id, limit=page.limit + 1)
    return make_page(rows, page, to_read, lambda row: row.id or 0)


@router.delete("/{token_id}", response_model=TokenRead)
def delete_token(token_id: int, session: SessionDep, _: Finance) -> TokenRead:
    """Revokes the token: every request that carries it gets 401 from now on."""
    return to_read(revoke_token(session, token_id))
