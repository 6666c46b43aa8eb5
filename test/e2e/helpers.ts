import type { RunningN8n } from '../../scripts/n8n-runtime';
import type { Simulator } from '../../simulator';

// What every end-to-end file needs: n8n's logs when something fails, polling for what happens
// after an answer, and a clean simulator per test.

const watched: Array<() => RunningN8n | undefined> = [];

function logTails(lines: number): string {
	return watched
		.map((get) => get())
		.filter((p): p is RunningN8n => p !== undefined)
		.map((p) => `n8n log tail (${p.logFile}):\n${p.logTail(lines)}`)
		.join('\n');
}

/** Prints the logs of these n8n processes after a test whose assertions failed (they explain most failures). */
export function printLogsOnFailure(...processes: Array<() => RunningN8n | undefined>): void {
	watched.push(...processes);
	afterEach(() => {
		const state = expect.getState();
		if (state.assertionCalls > 0 && state.numPassingAsserts !== state.assertionCalls)
			process.stderr.write(`${logTails(60)}\n`);
	});
}

/** Polls `probe` until it returns a value; a timeout names what it waited for, with the logs. */
export async function eventually<T>(
	what: string,
	probe: () => T | undefined | Promise<T | undefined>,
	timeoutMs = 30_000,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logTails(40)}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** Each test starts with fresh simulator counters, inbox and index, and no fault. */
export function resetSimulatorBeforeEach(sim: () => Simulator): void {
	beforeEach(() => {
		sim().reset();
		sim().setFault(undefined);
	});
}
