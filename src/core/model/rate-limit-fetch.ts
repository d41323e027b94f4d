/**
 * The SDK retries a 429 on its own, after the server's Retry-After when it
 * is under a minute, without a word to anyone and without knowing how long
 * the turn has left. This fetch marks every 429 `x-should-retry: false`, the
 * header the SDK obeys, so the 429 reaches the turn at once: the turn waits
 * as the server asks, within its deadline, while the thread says the model
 * service is busy (turn-run.ts). Other failures the SDK still retries itself.
 */
export function rateLimitsToCaller(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.status !== 429) return response;
    const headers = new Headers(response.headers);
    headers.set("x-should-retry", "false");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
