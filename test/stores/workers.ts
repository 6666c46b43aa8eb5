import type { ChildProcess } from 'node:child_process';

/** What the worker processes of the race tests send: their own messages, or an error. */
export type WorkerMessage = { type: string } & Record<string, unknown>;

/**
 * The worker's next message of this type; its error message or its end rejects. 'close', not
 * 'exit': a worker that sends its result and exits at once may end before the parent has read the
 * message, and 'close' comes only after the IPC channel delivered everything.
 */
export function waitFor<M extends WorkerMessage, T extends M['type']>(
	child: ChildProcess,
	type: T,
): Promise<Extract<M, { type: T }>> {
	return new Promise((resolve, reject) => {
		child.on('message', (message: M) => {
			if (message.type === type) resolve(message as Extract<M, { type: T }>);
			else if (message.type === 'error') reject(new Error(`worker: ${String(message.message)}`));
		});
		child.on('close', (code) => reject(new Error(`worker exited with ${code} before "${type}"`)));
	});
}
