/** Caps calls in flight (FIFO) and, optionally, calls started per minute. */
export class CallLimiter {
	private active = 0;
	private readonly waiting: Array<() => void> = [];
	private readonly started: number[] = [];

	constructor(
		private readonly maxInFlight: number,
		private readonly perMinute = 0,
		private readonly now: () => number = Date.now,
	) {}

	/** Runs fn when a slot (and a per-minute token) is free. */
	async run<T>(fn: () => Promise<T>): Promise<T> {
		if (this.active >= this.maxInFlight)
			await new Promise<void>((resolve) => this.waiting.push(resolve));
		else this.active++;
		try {
			await this.takeMinuteToken();
			return await fn();
		} finally {
			const next = this.waiting.shift();
			if (next)
				next(); // hands the slot over without releasing it
			else this.active--;
		}
	}

	private async takeMinuteToken(): Promise<void> {
		if (!this.perMinute) return;
		for (;;) {
			const t = this.now();
			while (this.started.length && this.started[0] <= t - 60_000) this.started.shift();
			if (this.started.length < this.perMinute) {
				this.started.push(t);
				return;
			}
			await new Promise((r) => setTimeout(r, this.started[0] + 60_000 - t));
		}
	}
}
