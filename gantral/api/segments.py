"""Path segments that end at a colon: `/v1/policies/p:evaluate`, `/v1/halts/h:lift` and
`/v1/standing-grants/s:revoke` are the custom methods (`:evaluate`, `:lift`, `:revoke`)
on resource `p`, `h` or `s`, never a resource named `p:evaluate` (these ids hold no colon).
Written `{name:segment}` in a route, so an unsupported method on the custom method's path
is 405 naming the methods served there (not a 422 about the id, nor GET listed in
`Allow` because `/{id}` matched `h:lift`)."""

from __future__ import annotations

from starlette.convertors import StringConvertor, register_url_convertor

__all__ = ["SEGMENT"]


class _Segment(StringConvertor):
    regex = "[^/:]+"


SEGMENT = "segment"
register_url_convertor(SEGMENT, _Segment())
