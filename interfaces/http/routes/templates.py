"""Standard answers (referensi standar jawaban) for officers to pick when answering a case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from domain.vocabulary import Category
from interfaces.http.deps import PrincipalDep, ServicesDep
from interfaces.http.problems import Problem
from interfaces.http.routes.admin import AnswerTemplateOut, AnswerTemplatesOut

router = APIRouter(prefix="/v1/answer-templates", tags=["complaints"])


@router.get(
    "",
    response_model=AnswerTemplatesOut,
    operation_id="pickAnswerTemplates",
    summary="Standard answers to pick from: the latest version of each, by category",
    description=(
        "For officers answering a case: pass a template's `id` (and, optionally, `version`) as "
        "`template_id` / `template_version` when acknowledging, in an `interim_answer` "
        "follow-up, or when closing. Admins manage them under /v1/admin/answer-templates."
    ),
    responses={
        401: {"description": "No token or a bad token"},
        403: {"description": "Your roles read no cases"},
        422: {"description": "Unknown category"},
    },
)
def templates_to_pick(
    principal: PrincipalDep,
    services: ServicesDep,
    category: Annotated[Category | None, Query(description="Only this category's")] = None,
) -> AnswerTemplatesOut:
    if services.admin is None:
        raise Problem(503, "not-configured", "Not available", "no agency configuration here")
    found = services.admin.templates_to_pick(principal, category)
    return AnswerTemplatesOut(
        items=[
            AnswerTemplateOut(
                id=t.id,
                version=t.version,
                category=t.category,
                title=t.title,
                body=t.body,
                saved_at=t.saved_at,
                saved_by=t.saved_by,
            )
            for t in found
        ]
    )
