"""The dashboard's API caller turns every answer of the API into data or an ``ApiError``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from magna.dashboard.apicall import Api, ApiError


async def crash(request: Request) -> JSONResponse:
    raise RuntimeError("a bug behind the API")


async def refuse(request: Request) -> JSONResponse:
    return JSONResponse({"errors": [{"status": 403, "title": "Not allowed",
                                     "detail": "Policy doesn't allow x to be performed."}]},
                        status_code=403)


APP = Starlette(routes=[Route("/crash", crash), Route("/refuse", refuse)])


def call(path: str) -> ApiError:
    async def run() -> None:
        async with Api(APP, token=None) as api:
            await api.get(path)

    # NOTE: a loop of its own in a thread of its own: a browser test that ran earlier in this
    # process leaves Playwright's loop running in the main thread.
    with ThreadPoolExecutor(1) as pool, pytest.raises(ApiError) as caught:
        pool.submit(asyncio.run, run()).result()
    return caught.value


def test_an_api_crash_is_a_500_to_show_not_an_exception_of_the_page() -> None:
    error = call("/crash")
    assert error.status == 500


def test_a_refusal_carries_the_api_message() -> None:
    error = call("/refuse")
    assert (error.status, error.message) == (403, "Policy doesn't allow x to be performed.")
