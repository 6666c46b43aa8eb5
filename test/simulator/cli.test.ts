import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const CLI = join(__dirname, '../../dist/simulator/cli.js');

/** Starts `ai-sim` (the built CLI, as `npm run ai-sim` does) and resolves with its URL. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
	const child = spawn(process.execPath, [CLI, '--port', '0', ...args], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	return new Promise((resolve, reject) => {
		let out = '';
		child.stdout!.on('data', (d: Buffer) => {
			out += d.toString();
			const m = /listening on (http:\/\/\S+)/.exec(out);
			if (m) resolve({ child, url: m[1] });
		});
		child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
		child.on('exit', (code) => reject(new Error(`ai-sim exited with ${code}: ${out}`)));
	});
}

describe('npm run ai-sim (the CLI)', () => {
	let child: ChildProcess | undefined;
	beforeAll(() => {
		if (!existsSync(CLI))
			throw new Error('dist/ is missing: run `npm run build` first (`npm test` does)');
	});
	afterEach(() => child?.kill());

	it('sets keys and faults from flags', async () => {
		const started = await startCli([
			'--api-key',
			'k1',
			'--fail-first',
			'1',
			'--status',
			'503',
			'--seed',
			'3',
		]);
		child = started.child;
		const call = (key: string) =>
			fetch(`${started.url}/v1/chat/completions`, {
				method: 'POST',
				headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
				body: JSON.stringify({
					model: 'sim-standard',
					messages: [{ role: 'user', content: 'hello' }],
				}),
			}).then((r) => r.status);
		expect(await call('sim-key')).toBe(401);
		expect([await call('k1'), await call('k1')]).toEqual([503, 200]);
		const counters = (await (await fetch(`${started.url}/_sim/counters`)).json()) as {
			byStatus: Record<string, number>;
		};
		expect(counters.byStatus).toEqual({ '401': 1, '503': 1, '200': 1 });
	});

	it('refuses an unknown flag with the usage text', async () => {
		await expect(startCli(['--explode'])).rejects.toThrow(/exited with 2[\s\S]*Usage: ai-sim/);
	});

	it('refuses a bad fault spec naming it', async () => {
		await expect(startCli(['--status', '200'])).rejects.toThrow(/status must be HTTP error codes/);
	});
});
