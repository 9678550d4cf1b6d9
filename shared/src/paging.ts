/**
 * Byte budgets of the list routes (issue 16 point 6): a count limit alone let one `events` call
 * return 54 MB (a thousand 1 MiB events) and push the controller's RSS from 367 to 585 MB. Every
 * list response is now also cut at a byte budget; a cut response says `truncated: true`, and
 * holds the items in the order the route documents, so the caller pages on from the last one
 * (events: `after=last`) or asks for fewer. At least one item is always returned, so paging
 * never stalls.
 */
import { Type } from '@sinclair/typebox';

/** Byte budget of a page of events, audit entries, runs or operations (their items vary in size). */
export const LIST_PAGE_MAX_BYTES = 1024 * 1024;

/**
 * Byte budget of the host list, which has no paging: summaries are a few hundred bytes of
 * schema-bounded fields, so 8 MiB holds more than 15,000 hosts; the bound is a backstop.
 */
export const HOST_LIST_MAX_BYTES = 8 * 1024 * 1024;

/** The `truncated` field of list responses, documented once. */
export const TruncatedField = Type.Optional(
  Type.Boolean({
    description: 'Present and true when the page was cut at its byte budget (1 MiB; 8 MiB for hosts) before its count limit: page on from the last item, or ask for fewer',
  }),
);
