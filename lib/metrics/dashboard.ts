/**
 * The dashboard page: one self-contained HTML document drawn from DashboardData. No scripts and no
 * external resources (n8n may serve it in a sandboxed iframe, offline): charts are inline SVG.
 * Every text from the data came from a webhook somewhere, so all of it goes through esc().
 */
import type { DashboardData } from './dashboardData';

/** Tableau 10: distinct in light and dark themes; the last (grey) is kept for "other tags". */
const PALETTE = [
	'#4e79a7',
	'#f28e2b',
	'#59a14f',
	'#e15759',
	'#76b7b2',
	'#edc948',
	'#b07aa1',
	'#ff9da7',
	'#9c755f',
	'#bab0ac',
];
/** Caps amounts so sums and scales stay finite whatever the store holds. */
const MAX_AMOUNT = 1e15;

const ESC: Record<string, string> = {
	'&': '&amp;',
	'<': '&lt;',
	'>': '&gt;',
	'"': '&quot;',
	"'": '&#39;',
};
export function esc(value: unknown): string {
	return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

/** A count or amount: anything but a finite positive number draws as 0. */
function amount(n: unknown): number {
	return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.min(n, MAX_AMOUNT) : 0;
}
function maybe(n: unknown): number | null {
	return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.min(n, MAX_AMOUNT) : null;
}
const list = <T>(value: T[] | undefined | null): T[] => (Array.isArray(value) ? value : []);
const r2 = (n: number) => Math.round(n * 100) / 100;

const int = (n: unknown) => Math.round(amount(n)).toLocaleString('en-US');
const compact = (n: unknown) =>
	amount(n).toLocaleString('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export function usd(value: unknown): string {
	const n = amount(value);
	if (n === 0) return '$0.00';
	// Below a cent, 3 significant digits: AI calls often cost fractions of one.
	if (n < 0.01) return `$${n.toFixed(Math.min(20, 2 - Math.floor(Math.log10(n))))}`;
	return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function pct(rate: unknown): string {
	const n = maybe(rate);
	return n === null ? '—' : `${(n * 100).toFixed(1)} %`;
}

export function duration(ms: unknown): string {
	const n = maybe(ms);
	if (n === null) return '—';
	if (n < 1000) return `${Math.round(n)} ms`;
	if (n < 10_000) return `${(n / 1000).toFixed(2)} s`;
	return `${(n / 1000).toFixed(n < 60_000 ? 1 : 0)} s`;
}

export function age(ms: unknown): string {
	const n = maybe(ms);
	if (n === null) return '—';
	const s = n / 1000;
	if (s < 60) return `${Math.round(s)} s`;
	if (s < 3600) return `${Math.round(s / 60)} min`;
	if (s < 172_800) return `${Math.round(s / 3600)} h`;
	return `${Math.round(s / 86_400)} d`;
}

/** A status as a CSS class suffix: only letters and dashes, so it can't break out of the attribute. */
const badge = (status: unknown) => {
	const s =
		String(status ?? 'unknown')
			.toLowerCase()
			.replace(/[^a-z-]/g, '') || 'unknown';
	return `<span class="badge status-${s}">${esc(status)}</span>`;
};

/** Formats ISO times in the data's time zone (UTC if that zone is unknown), with "3 min ago". */
function clock(timeZone: string, nowIso: string) {
	const opts: Intl.DateTimeFormatOptions = {
		year: 'numeric',
		month: '2-digit',
		day: '2-digit',
		hour: '2-digit',
		minute: '2-digit',
		hourCycle: 'h23',
	};
	let zone = String(timeZone || 'UTC');
	let fmt: Intl.DateTimeFormat;
	try {
		fmt = new Intl.DateTimeFormat('en-US', { ...opts, timeZone: zone });
	} catch {
		zone = 'UTC';
		fmt = new Intl.DateTimeFormat('en-US', { ...opts, timeZone: zone });
	}
	const now = Date.parse(nowIso);
	const parts = (t: number) => {
		const p: Record<string, string> = {};
		for (const { type, value } of fmt.formatToParts(t)) p[type] = value;
		return p;
	};
	const today = Number.isFinite(now) ? parts(now) : {};
	const parse = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : NaN);
	const full = (t: number) => {
		const p = parts(t);
		return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
	};
	const rel = (t: number) =>
		!Number.isFinite(now) ? '' : t <= now ? `${age(now - t)} ago` : `in ${age(t - now)}`;
	/** Absolute time, shortened to what differs from generatedAt, then "(in 3 h)". */
	const at = (iso: unknown, withRel = true): string => {
		const t = parse(iso);
		if (!Number.isFinite(t)) return iso ? esc(iso) : '—';
		const p = parts(t);
		let text = full(t);
		if (withRel && p.year === today.year) {
			text = `${p.month}-${p.day} ${p.hour}:${p.minute}`;
			if (p.month === today.month && p.day === today.day) text = `${p.hour}:${p.minute}`;
		}
		const r = withRel ? rel(t) : '';
		return `<time datetime="${esc(iso)}">${text}</time>${r ? ` <span class="muted">(${r})</span>` : ''}`;
	};
	/** For "checked"/"last used": how long ago, the absolute time as a tooltip. */
	const ago = (iso: unknown): string => {
		const t = parse(iso);
		if (!Number.isFinite(t) || !Number.isFinite(now)) return at(iso, false);
		return `<time datetime="${esc(iso)}" title="${full(t)} ${esc(zone)}">${rel(t)}</time>`;
	};
	return { at, ago, zone };
}

const panel = (id: string, title: string, body: string, extra = '') =>
	`<section class="panel${extra}" id="${id}"><h2>${title}</h2>${body}</section>`;
const empty = (hint: string) => `<p class="empty">${esc(hint)}</p>`;
const table = (head: string[], rows: string[][]) =>
	`<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
		.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
		.join('')}</tbody></table>`;
const track = (percent: number, cls: string) =>
	`<span class="track"><span class="fill ${cls}" style="width:${r2(Math.min(100, Math.max(0, percent)))}%"></span></span>`;

/** Y scale for the chart: a top of 3–5 steps of 1, 2, 2.5 or 5 × 10^n, with the decimals they need. */
export function niceScale(max: number): { top: number; step: number; decimals: number } {
	const raw = max / 4;
	let e = Math.floor(Math.log10(raw));
	let k = [1, 2, 2.5, 5, 10].find((c) => c * 10 ** e >= raw) ?? 10;
	if (k === 10) [k, e] = [1, e + 1];
	const step = k * 10 ** e;
	const top = Math.ceil(max / step - 1e-9) * step;
	return {
		top,
		step,
		decimals: step >= 1 ? 0 : Math.min(20, Math.max(2, -e + (k === 2.5 ? 1 : 0))),
	};
}

interface Series {
	label: string;
	colour: string;
	values: number[];
	total: number;
}

/** One series per tag, largest first; past the palette the smallest are summed as "other tags". */
function series(data: DashboardData, n: number): Series[] {
	const all = list(data.costByDay)
		.map((row) => {
			const costs = Array.isArray(row?.costUsd) ? row.costUsd : [];
			const values = Array.from({ length: n }, (_, i) => amount(costs[i]));
			const label = row?.tag ? String(row.tag) : 'untagged';
			return { label, colour: '', values, total: values.reduce((a, b) => a + b, 0) };
		})
		.filter((s) => s.total > 0)
		.sort((a, b) => b.total - a.total);
	const shown = all.slice(0, all.length > PALETTE.length ? PALETTE.length - 1 : PALETTE.length);
	const rest = all.slice(shown.length);
	if (rest.length) {
		const values = Array.from({ length: n }, (_, i) => rest.reduce((a, s) => a + s.values[i], 0));
		const total = rest.reduce((a, s) => a + s.total, 0);
		shown.push({ label: `${rest.length} other tags`, colour: '', values, total });
	}
	return shown.map((s, i) => ({ ...s, colour: PALETTE[i] }));
}

function costChart(data: DashboardData): string {
	const days = list(data.days).map(String);
	const n = days.length;
	const tags = series(data, n);
	const totals = days.map((_, i) => tags.reduce((a, s) => a + s.values[i], 0));
	const max = totals.reduce((a, b) => Math.max(a, b), 0);
	if (!(max >= 1e-9)) {
		const calls = amount(data.recent?.calls);
		return empty(calls ? 'No AI cost in this window yet' : 'No AI calls in this window yet');
	}
	const [W, H, L, R, T, B] = [760, 260, 68, 8, 12, 28];
	const pw = W - L - R;
	const ph = H - T - B;
	const { top, step, decimals } = niceScale(max);
	const y = (v: number) => T + ph - (v / top) * ph;
	const money = (v: number) =>
		`$${v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })}`;
	const out: string[] = [];
	for (let i = 0; i <= Math.round(top / step); i++) {
		const ty = r2(y(i * step));
		out.push(
			`<line class="grid" x1="${L}" x2="${W - R}" y1="${ty}" y2="${ty}"/>`,
			`<text class="axis" x="${L - 6}" y="${r2(ty + 4)}" text-anchor="end">${money(i * step)}</text>`,
		);
	}
	const band = pw / n;
	const bw = band * 0.7;
	// About 15 labels fit; the newest day always gets one.
	const every = Math.ceil(n / 15);
	days.forEach((day, i) => {
		const x = L + i * band + (band - bw) / 2;
		let base = 0;
		for (const s of tags) {
			const v = s.values[i];
			if (v <= 0) continue;
			const h = (v / top) * ph;
			out.push(
				`<rect x="${r2(x)}" y="${r2(y(base) - h)}" width="${r2(bw)}" height="${r2(h)}" fill="${s.colour}"><title>${esc(`${s.label} ${day}: ${usd(v)}`)}</title></rect>`,
			);
			base += v;
		}
		if ((n - 1 - i) % every === 0) {
			const label = /^\d{4}-\d\d-\d\d$/.test(day) ? day.slice(5) : day.slice(0, 10);
			out.push(
				`<text class="axis" x="${r2(x + bw / 2)}" y="${H - 8}" text-anchor="middle">${esc(label)}</text>`,
			);
		}
	});
	const legend = tags
		.map(
			(s) =>
				`<li><span class="swatch" style="background:${s.colour}"></span>${esc(s.label)} <span class="muted">${usd(s.total)}</span></li>`,
		)
		.join('');
	return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="Cost per day by tag over ${n} days">${out.join('')}</svg><ul class="legend">${legend}</ul>`;
}

function outcomes(data: DashboardData): string {
	const r = data.recent ?? ({} as DashboardData['recent']);
	const failures = Object.entries(r.failuresByClass ?? {})
		.map(([cls, count]) => [cls, amount(count)] as const)
		.filter(([, count]) => count > 0)
		.sort((a, b) => b[1] - a[1]);
	const rows: Array<[string, number, string]> = [
		['Succeeded', amount(r.succeeded), 'ok'],
		['Cached', amount(r.cached), 'cached'],
		['Simulated', amount(r.simulated), 'sim'],
		...(failures.length
			? failures.map(([cls, count]): [string, number, string] => [`Failed: ${cls}`, count, 'fail'])
			: [['Failed', amount(r.failed), 'fail'] as [string, number, string]]),
	];
	const max = rows.reduce((a, [, c]) => Math.max(a, c), 0);
	return `<div class="hbars">${rows
		.map(
			([label, count, cls]) =>
				`<div class="hbar"><span class="label">${esc(label)}</span>${track(max ? (count / max) * 100 : 0, `kind-${cls}`)}<span class="n">${int(count)}</span></div>`,
		)
		.join('')}</div>`;
}

function latency(data: DashboardData): string {
	const r = data.recent ?? ({} as DashboardData['recent']);
	const overall = `<p>All models: p50 <strong>${duration(r.latencyP50Ms)}</strong> · p95 <strong>${duration(r.latencyP95Ms)}</strong></p>`;
	const models = list(data.latencyByModel);
	if (!models.length) return overall + empty('No AI call has reached a service in this window yet');
	const max = models.reduce((a, m) => Math.max(a, amount(m?.p95Ms), amount(m?.p50Ms)), 0);
	const bar = (m: (typeof models)[number]) =>
		max
			? `<span class="track lat">${[
					['p95', amount(m.p95Ms)],
					['p50', amount(m.p50Ms)],
				]
					.map(
						([cls, v]) =>
							`<span class="fill ${cls}" style="width:${r2(((v as number) / max) * 100)}%"></span>`,
					)
					.join('')}</span>`
			: '';
	return (
		overall +
		table(
			['Model', 'Calls', 'p50', 'p95', ''],
			models.map((m) => [
				`${esc(m?.model)} <span class="muted">${esc(m?.provider)}</span>`,
				int(m?.calls),
				duration(m?.p50Ms),
				duration(m?.p95Ms),
				bar(m),
			]),
		)
	);
}

export function renderDashboard(data: DashboardData): string {
	const d = (data ?? {}) as DashboardData;
	const r = d.recent ?? ({} as DashboardData['recent']);
	const { at, ago, zone } = clock(d.timeZone, d.generatedAt);
	const calls = amount(r.calls);
	const failedRate = calls ? amount(r.failed) / calls : null;
	const tile = (key: string, value: string, sub = '', cls = '') =>
		`<div class="tile${cls}"><div class="k">${key}</div><div class="v">${value}</div><div class="s">${sub}</div></div>`;
	const tiles = [
		tile('Calls', int(calls), `${int(r.succeeded)} succeeded`),
		tile('Cost', usd(r.costUsd), calls ? `${usd(amount(r.costUsd) / calls)} per call` : ''),
		tile(
			'Tokens',
			compact(amount(r.inputTokens) + amount(r.outputTokens)),
			`${int(r.inputTokens)} in · ${int(r.outputTokens)} out`,
		),
		tile(
			'Failed',
			pct(failedRate),
			`${int(r.failed)} calls`,
			(failedRate ?? 0) >= 0.05 ? ' alert' : '',
		),
		tile('Retries', int(r.retries)),
		tile('Fallbacks', int(r.fallbacks)),
		tile('Cache hit rate', pct(r.cacheHitRate)),
		tile('Latency p95', duration(r.latencyP95Ms), `p50 ${duration(r.latencyP50Ms)}`),
	].join('');

	const perOutcome = list(d.costPerOutcome);
	const budgets = list(d.budgets);
	const breakers = list(d.breakers);
	const queues = list(d.queues);
	const fresh = list(d.freshness);
	const status: Record<string, string> = { within: 'ok', warn: 'warn', exceeded: 'bad' };

	const panels = [
		panel(
			'tiles',
			`At a glance <span class="muted">${esc(d.recentWindow)}</span>`,
			`<div class="tiles">${tiles}</div>`,
			' full',
		),
		panel('cost-by-day', 'Cost per day by tag', costChart(d), ' span2'),
		panel(
			'calls-by-outcome',
			`Calls by outcome <span class="muted">${esc(d.recentWindow)}</span>`,
			outcomes(d),
		),
		panel('latency', 'Latency', latency(d)),
		panel(
			'cost-per-outcome',
			`Cost per business outcome <span class="muted">${esc(d.outcomeWindow)}</span>`,
			perOutcome.length
				? table(
						['Tag', 'Outcomes', 'Cost', 'Per outcome'],
						perOutcome.map((o) => [
							o?.tag ? esc(o.tag) : '<span class="muted">untagged</span>',
							int(o?.outcomes),
							usd(o?.costUsd),
							maybe(o?.costPerOutcomeUsd) === null ? '—' : usd(o.costPerOutcomeUsd),
						]),
					)
				: empty(
						'No outcomes yet: count them with AI Usage → Record Outcome, named like a Cost Tag',
					),
		),
		panel(
			'budgets',
			'Budgets',
			budgets.length
				? `<ul class="items">${budgets
						.map((b) => {
							const limits = [
								b?.limitUsd != null ? `${usd(b.spentUsd)} of ${usd(b.limitUsd)}` : '',
								b?.limitTokens != null
									? `${int(b.spentTokens)} of ${int(b.limitTokens)} tokens`
									: '',
							].filter(Boolean);
							const resets = b?.resetAt ? ` · resets ${at(b.resetAt)}` : '';
							return `<li><div class="row"><strong>${esc(b?.name)}</strong> <span class="muted">${b?.scopeKey ? esc(b.scopeKey) : 'all'}</span>${badge(b?.status)}</div>${track(amount(b?.percent), `budget-${status[b?.status] ?? 'ok'}`)}<div class="muted small">${Math.round(amount(b?.percent))} % · ${limits.join(' · ') || 'no limit'} · ${esc(b?.period)}${resets}</div></li>`;
						})
						.join('')}</ul>`
				: empty('No budgets yet: set Budgets on an AI Call'),
		),
		panel(
			'breakers',
			'Circuit breakers',
			breakers.length
				? table(
						['Breaker', 'State', 'Last used'],
						breakers.map((b) => [esc(b?.name), badge(b?.state), ago(b?.seenAt)]),
					)
				: empty('No AI Call with a circuit breaker has run yet'),
		),
		panel(
			'queues',
			'Queues',
			queues.length
				? table(
						['Queue', 'Status', 'Depth', 'Oldest', 'Checked'],
						queues.map((q) => [
							`${esc(q?.source)} / <strong>${esc(q?.queue)}</strong>${q?.reason ? `<div class="muted small">${esc(q.reason)}</div>` : ''}`,
							badge(q?.status),
							maybe(q?.depth) === null ? '—' : int(q.depth),
							age(q?.oldestAgeMs),
							ago(q?.checkedAt),
						]),
					)
				: empty('No Queue Depth Check has run yet'),
		),
		panel(
			'freshness',
			'Data freshness',
			fresh.length
				? table(
						['Source', 'Status', 'Age', 'Checked'],
						fresh.map((f) => [
							`${esc(f?.source)}${f?.reason ? `<div class="muted small">${esc(f.reason)}</div>` : ''}`,
							badge(f?.status),
							age(f?.ageMs),
							ago(f?.checkedAt),
						]),
					)
				: empty('Turn on Publish Status in a Freshness Check'),
		),
	].join('\n');

	return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>AI usage — n8n-nodes-ai-patterns</title>
<style>${CSS}</style>
</head>
<body>
<header id="summary"><h1>AI usage</h1><p class="muted">Generated ${at(d.generatedAt, false)} ${esc(zone)} · ${esc(d.store)} · recent: ${esc(d.recentWindow)} · refreshes every minute</p></header>
<main class="grid">
${panels}
</main>
</body>
</html>
`;
}

const CSS = `
:root{--bg:#f5f6f8;--card:#fff;--fg:#1d2330;--muted:#5b6475;--line:#e3e6ec;--track:#eceef2;
--ok:#1e7d3c;--ok-bg:#dff3e4;--warn:#8a5a00;--warn-bg:#fdf0d2;--bad:#b3261e;--bad-bg:#fbe0de;--unk:#5b6475;--unk-bg:#e9ebef}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2129;--fg:#e6e9ef;--muted:#a0a8b8;--line:#2e3440;--track:#2a2f38;
--ok:#7ddc98;--ok-bg:#1c3a26;--warn:#f3c46b;--warn-bg:#3d3116;--bad:#ff8f86;--bad-bg:#45201e;--unk:#b7bfcc;--unk-bg:#2e333c}}
*{box-sizing:border-box}
body{margin:0;padding:20px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header,main{max-width:1200px;margin:0 auto}
h1{font-size:22px;margin:0 0 2px}h2{font-size:15px;margin:0 0 12px}
.muted{color:var(--muted);font-weight:normal}.small{font-size:12px}
.grid{display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr));margin-top:16px}
.panel{overflow-wrap:anywhere;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px;min-width:0;overflow-x:auto}
.full{grid-column:1/-1}@media (min-width:800px){.span2{grid-column:span 2}}
.tiles{display:grid;gap:10px;grid-template-columns:repeat(auto-fit,minmax(124px,1fr))}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 12px}.tile.alert{border-color:var(--bad);background:var(--bad-bg)}
.tile .k{color:var(--muted);font-size:12px}.tile .v{font-size:18px;overflow-wrap:anywhere;font-weight:600;font-variant-numeric:tabular-nums}.tile .s{color:var(--muted);font-size:12px;min-height:1em}
svg{width:100%;height:auto;display:block}svg .grid{stroke:var(--line)}svg .axis{fill:var(--muted);font-size:11px}
.legend{list-style:none;padding:0;margin:10px 0 0;display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.empty{color:var(--muted);font-style:italic;padding:24px 0;text-align:center;margin:0}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{white-space:nowrap;text-align:left;color:var(--muted);font-weight:600;font-size:12px;border-bottom:1px solid var(--line);padding:4px 8px 6px 0}
td:not(:first-child){white-space:nowrap;overflow-wrap:normal}td:first-child{min-width:7em}td{border-bottom:1px solid var(--line);padding:6px 6px 6px 0;vertical-align:top}tr:last-child td:not(:first-child){white-space:nowrap;overflow-wrap:normal}td:first-child{min-width:7em}td{border-bottom:0}
.track{display:block;position:relative;height:10px;background:var(--track);border-radius:5px;overflow:hidden;min-width:60px}
.fill{position:absolute;left:0;top:0;bottom:0;border-radius:5px}
.hbar{display:grid;grid-template-columns:150px 1fr 64px;gap:10px;align-items:center;margin:6px 0}
.hbar .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.hbar .n{text-align:right;font-variant-numeric:tabular-nums}
.kind-ok{background:#59a14f}.kind-cached{background:#4e79a7}.kind-sim{background:#b07aa1}.kind-fail{background:#e15759}
.lat .p95{background:#a0c4e8}.lat .p50{background:#4e79a7}
.items{list-style:none;padding:0;margin:0}.items li{padding:8px 0;border-bottom:1px solid var(--line)}.items li:last-child{border-bottom:0}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:baseline;margin-bottom:6px}.row .badge{margin-left:auto}
.budget-ok{background:#59a14f}.budget-warn{background:#e0a100}.budget-bad{background:#d93a30}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:var(--unk-bg);color:var(--unk);white-space:nowrap}
.status-within,.status-closed,.status-normal,.status-fresh{background:var(--ok-bg);color:var(--ok)}
.status-warn,.status-half-open{background:var(--warn-bg);color:var(--warn)}
.status-exceeded,.status-open,.status-critical,.status-stale{background:var(--bad-bg);color:var(--bad)}
`;
