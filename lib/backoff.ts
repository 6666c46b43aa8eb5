/**
 * Exponential backoff with full jitter (AWS architecture blog): the wait before retry n is
 * uniform in [0, min(max, base · 2^(n-1))]. Spreads retries of many items so they do not
 * hit a recovering service in waves.
 */
export interface BackoffOptions {
	baseMs: number;
	maxMs: number;
}

export function backoffCeiling(retry: number, { baseMs, maxMs }: BackoffOptions): number {
	return Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
}

export function fullJitter(
	retry: number,
	options: BackoffOptions,
	random: () => number = Math.random,
): number {
	return Math.round(random() * backoffCeiling(retry, options));
}

/** Resolves after ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(timer);
			reject(signal!.reason);
		};
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}
