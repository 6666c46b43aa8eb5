// Drives the real n8n editor in Debian's Chromium (playwright-core, no browser download): signs in,
// adds nodes from the node creator's search, opens panels, measures the canvas and takes
// screenshots. Shared by the browser suite (test/e2e/editor.e2e.ts) and `npm run screenshots`.
// Selectors are the data-test-id attributes n8n's own editor tests use; where n8n has none (the
// name under a node, a handle's label) the boxes are those of the rendered text itself.
'use strict';
const { existsSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const VIEWPORT = { width: 1600, height: 1000 };
const CHROMIUM_ARGS = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

/**
 * Headless Chromium with a fresh user-data dir (removed by close()). Returns { context, page,
 * close() }; the first page is open at the given viewport.
 */
async function launchEditorBrowser({ viewport = VIEWPORT } = {}) {
	if (!existsSync(CHROMIUM))
		throw new Error(
			`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
		);
	const { chromium, selectors } = require('playwright-core');
	selectors.setTestIdAttribute('data-test-id');
	const userDataDir = mkdtempSync(join(tmpdir(), 'ai-patterns-chromium-'));
	const context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		viewport,
		deviceScaleFactor: 1,
	});
	context.setDefaultTimeout(15_000);
	// the first load of the editor fetches ~1000 modules: slow on a busy machine
	context.setDefaultNavigationTimeout(120_000);
	const page = context.pages()[0] ?? (await context.newPage());
	return {
		context,
		page,
		async close() {
			await context.close().catch(() => undefined);
			rmSync(userDataDir, { recursive: true, force: true });
		},
	};
}

/** Signs in through the editor's sign-in form; resolves once the app has left /signin. */
async function signIn(page, url, { email = 'owner@example.com', password = 'Passw0rd-demo' } = {}) {
	await page.goto(`${url}/signin`);
	await page.getByTestId('emailOrLdapLoginId').locator('input').fill(email);
	await page.getByTestId('password').locator('input').fill(password);
	await page.getByTestId('form-submit-button').click();
	await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
	// the app is ready for its router once its sidebar shows
	await page.getByTestId('universal-add').waitFor({ timeout: 120_000 });
}

const creator = (page) => page.getByTestId('node-creator');

const LEAVE_DIALOG = '[aria-label="Save changes before leaving?"]';

/**
 * Waits until `ready` is visible; leaving a workflow with unsaved changes asks "Save changes before
 * leaving?" first: this answers "Leave without saving" (these are throw-away workflows).
 */
async function untilReady(page, ready, timeoutMs = 120_000) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const leave = page.locator(LEAVE_DIALOG);
		if (await leave.isVisible().catch(() => false))
			await leave
				.getByRole('button', { name: /leave without saving/i })
				.click()
				.catch(() => undefined);
		if (await ready.isVisible().catch(() => false)) return;
		await page.waitForTimeout(150);
	}
	// what the page showed instead, for the person reading the failure
	if (process.env.EDITOR_FAILURE_SHOT)
		await page.screenshot({ path: process.env.EDITOR_FAILURE_SHOT }).catch(() => undefined);
	await ready.waitFor({ timeout: 1 });
}

/**
 * Goes to `path` inside the editor and waits for `ready`: through the app's own router once it is
 * loaded (a full page load of n8n's editor fetches ~1000 modules, seconds each time), else by
 * loading the page.
 */
async function go(page, url, path, ready) {
	const routed = await page
		.evaluate((to) => {
			const router = document.querySelector('#app')?.__vue_app__?.config.globalProperties.$router;
			if (!router) return false;
			void router.push(to);
			return true;
		}, path)
		.catch(() => false);
	if (!routed) await page.goto(`${url}${path}`);
	await untilReady(page, ready);
}

/** Closes what an earlier step (or a failed one) left open: the node panel, the node creator. */
async function closeOverlays(page) {
	await closePanel(page).catch(() => undefined);
	for (
		let i = 0;
		i < 3 &&
		(await creator(page)
			.isVisible()
			.catch(() => false));
		i++
	) {
		await page.keyboard.press('Escape');
		await page.waitForTimeout(200);
	}
}

/** A new workflow (sidebar + → New workflow) with a Manual Trigger, so "What happens next?" shows. */
async function newWorkflowWithTrigger(page, url) {
	await closeOverlays(page);
	const add = page.getByTestId('universal-add');
	if (await add.isVisible()) {
		await add.click();
		await page
			.getByTestId('navigation-menu-item')
			.filter({ hasText: 'New workflow' })
			.first()
			.click();
	} else await page.goto(`${url}/workflow/new`);
	try {
		await untilReady(page, page.getByTestId('canvas-plus-button'), 30_000);
	} catch {
		// the router sometimes stays on the last workflow (a panel or dialog in the way): load the page
		await page.goto(`${url}/workflow/new`);
		await untilReady(page, page.getByTestId('canvas-plus-button'));
	}
	await page.getByTestId('canvas-plus-button').click();
	await page.getByTestId('node-creator-search-bar').fill('Manual Trigger');
	await creator(page)
		.getByTestId('node-creator-item-name')
		.getByText('Manual Trigger', { exact: true })
		.click();
	await page.getByTestId('canvas-node').first().waitFor();
	await closePanel(page);
}

/**
 * Opens the node creator for the next step: `via` 'plus' (the canvas's + button) or 'key' (the
 * keyboard: n8n 2.41 opens it with N; Tab, the old shortcut, only shows a notice that it moved).
 * Returns its heading (e.g. "What happens next?").
 */
async function openNodeCreator(page, via = 'plus') {
	if (via === 'key') {
		await page.locator('.vue-flow__pane').click({ position: { x: 20, y: 20 } });
		await page.keyboard.press('n');
	} else await page.getByTestId('node-creator-plus-button').click();
	await page.getByTestId('node-creator-search-bar').waitFor();
	return creatorHeading(page);
}

/**
 * The open creator's heading (its first line; a line under it explains the view), once three
 * readings agree: n8n may slide the view it means in over another (a slot's language models over
 * "Other AI Nodes").
 */
async function creatorHeading(page) {
	let last = '';
	let same = 0;
	for (let i = 0; i < 50 && same < 2; i++) {
		const now = await creator(page)
			.getByTestId('nodes-list-header')
			.last()
			.innerText({ timeout: 1_000 })
			.then((text) => text.trim().split('\n')[0].trim())
			.catch(() => '');
		same = now && now === last ? same + 1 : 0;
		last = now;
		if (same < 2) await page.waitForTimeout(100);
	}
	return last;
}

/**
 * Opens the node creator from the "+" under a node's input slot of connection type `type` (e.g.
 * the AI Agent's "Chat Model": 'ai_languageModel'), as a person clicks it on the canvas. n8n opens
 * it on what fits that slot. Returns its heading (e.g. "Language Models").
 */
async function openNodeCreatorFromInput(page, nodeName, type) {
	await page
		.locator(
			`[data-test-id="canvas-node-input-handle"][data-node-name="${nodeName}"][data-connection-type="${type}"]`,
		)
		.getByTestId('canvas-handle-plus')
		.click();
	await page.getByTestId('node-creator-search-bar').waitFor();
	return creatorHeading(page);
}

/**
 * Whether the "+" under a node's input slot of connection type `type` is shown: n8n drops it once
 * the slot holds all the connections it takes (the Agent's Chat Model: one).
 */
function inputSlotOffersAdd(page, nodeName, type) {
	return page
		.locator(
			`[data-test-id="canvas-node-input-handle"][data-node-name="${nodeName}"][data-connection-type="${type}"]`,
		)
		.getByTestId('canvas-handle-plus')
		.isVisible();
}

/** The node names the open node creator lists for `query` (after its search settles). */
async function searchNodes(page, query) {
	await page.getByTestId('node-creator-search-bar').fill(query);
	return listedNodes(page);
}

/**
 * The node names the open node creator lists now, once the list settles: search results, or the
 * nodes a view lists before any search (e.g. the language models a Chat Model slot opens on). A
 * view of categories only, or no results: [].
 */
async function listedNodes(page) {
	// search results are node items (the start view lists categories); none: the no-results text
	const read = () =>
		creator(page).evaluate((el) => {
			if (el.querySelector('[data-test-id="node-creator-no-results"]')) return '[]';
			const items = el.querySelectorAll(
				'[data-test-id="item-iterator-item"][data-keyboard-nav-type="node"] [data-test-id="node-creator-item-name"]',
			);
			return items.length ? JSON.stringify([...items].map((e) => e.textContent.trim())) : '';
		});
	// the list re-renders while the search settles: read it until three readings agree
	let last = '';
	let same = 0;
	for (let i = 0; i < 50 && same < 2; i++) {
		await page.waitForTimeout(100);
		const now = await read();
		same = now && now === last ? same + 1 : 0;
		last = now;
	}
	return last ? JSON.parse(last) : [];
}

/**
 * Clicks `displayName` in the open creator's result list; a node with actions opens its action
 * list first, then the action named `action` is taken (default: the first, as a user picks one).
 * Waits for the node's panel.
 */
async function addFromSearch(page, displayName, { action } = {}) {
	const before = await page.getByTestId('canvas-node').count();
	await creator(page)
		.getByTestId('node-creator-item-name')
		.getByText(displayName, { exact: true })
		.first()
		.click();
	const added = page.getByTestId('canvas-node').nth(before);
	const actions = creator(page).getByTestId('item-iterator-item');
	await added.or(page.getByTestId('ndv')).or(actions.first()).first().waitFor();
	if ((await page.getByTestId('canvas-node').count()) === before)
		await (
			action
				? actions.filter({ hasText: new RegExp(`^\\s*${escapeRegExp(action)}\\s*$`) })
				: actions
		)
			.first()
			.click();
	try {
		await page.getByTestId('ndv').waitFor({ timeout: 10_000 });
	} catch {
		// added, but the panel did not open by itself: open it as a person would, by double-click
		await page.getByTestId('canvas-node').nth(before).dblclick();
		await page.getByTestId('ndv').waitFor();
	}
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Picks `option` (its name as listed) in the open panel's options parameter `name`, as a person
 * does: opens the dropdown, clicks the option, waits for the list to close. Returns what the field
 * shows then.
 */
async function selectParameterOption(page, name, option) {
	const input = page.getByTestId('ndv').getByTestId(`parameter-input-${name}`).locator('input');
	// the dropdown is appended to <body>; the field names it in aria-controls
	const list = page.locator(`[id="${await input.getAttribute('aria-controls')}"]`);
	if (!(await list.isVisible())) await input.click();
	await list
		.getByTestId('parameter-input-item')
		.filter({ has: page.locator('.option-headline').getByText(option, { exact: true }) })
		.click();
	await list.waitFor({ state: 'hidden' });
	return input.inputValue();
}

/** What the open node panel shows as wrong: parameter issue markers and any "undefined" text. */
async function panelProblems(page) {
	const ndv = page.getByTestId('ndv');
	await ndv.getByTestId('node-parameters').waitFor();
	return ndv.evaluate((el) => {
		const issues = [
			...el.querySelectorAll(
				'[data-test-id="parameter-issues"], .has-issues, [data-test-id="node-issues"]',
			),
		].map((e) => {
			const item = e.closest('[data-test-id="parameter-item"]');
			const label = item?.querySelector('[data-test-id="input-label"]')?.textContent?.trim();
			return label ?? e.getAttribute('data-test-id') ?? e.className;
		});
		const undefinedText = el.innerText
			.split('\n')
			.filter((line) => /\bundefined\b/.test(line))
			.map((line) => line.trim());
		return { issues: [...new Set(issues)], undefinedText };
	});
}

/** The credentials the open node panel has selected, as its credential fields show them. */
async function panelCredentials(page) {
	const ndv = page.getByTestId('ndv');
	await ndv.getByTestId('node-parameters').waitFor();
	return ndv.evaluate((el) =>
		[...el.querySelectorAll('[data-test-id="node-credentials-select"]')].map((e) =>
			(e.querySelector('input')?.value ?? e.textContent).trim(),
		),
	);
}

async function closePanel(page) {
	const ndv = page.getByTestId('ndv');
	if (await ndv.isVisible()) {
		await page.getByTestId('ndv-close-button').click();
		await ndv.waitFor({ state: 'hidden' });
	}
}

/**
 * The canvas node's issues as its marker's tooltip lists them (n8n shows it on hover after 500 ms;
 * "issue marker" when it does not show), and any "undefined" text.
 */
async function canvasNodeProblems(page, name) {
	const node = page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
	await node.waitFor();
	const text = await node.innerText();
	return {
		issues: await canvasNodeIssues(page, name),
		undefinedText: text.split('\n').filter((line) => /\bundefined\b/.test(line)),
		text,
	};
}

/**
 * The issues a canvas node's marker lists in its tooltip (hovered, then the mouse moves off the
 * canvas again), e.g. 'No node connected to required input "Chat Model"'; [] without a marker.
 */
async function canvasNodeIssues(page, name) {
	const marker = page
		.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`)
		.getByTestId('node-issues');
	if (!(await marker.count())) return [];
	try {
		await marker.hover({ timeout: 5_000 });
		const tip = page
			.locator('[data-test-id="tooltip-content"]:visible')
			.filter({ hasText: 'Issues' })
			.first();
		await tip.waitFor({ timeout: 5_000 });
		const items = (await tip.locator('li').allInnerTexts())
			.map((t) => t.replace(/^\s*-\s*/, '').trim())
			.filter(Boolean);
		return items.length ? items : ['issue marker'];
	} catch {
		return ['issue marker'];
	} finally {
		await page.mouse.move(0, VIEWPORT.height - 1).catch(() => undefined);
	}
}

/** Opens a saved workflow and waits for its nodes to render. */
async function openWorkflow(page, url, id) {
	await closeOverlays(page);
	await go(page, url, `/workflow/${id}`, page.getByTestId('canvas-node').first());
	await page.waitForFunction(() => document.fonts.status === 'loaded');
}

function readTransform(page) {
	return page.evaluate(() => {
		const pane = document.querySelector('.vue-flow__transformationpane');
		return pane ? pane.style.transform : '';
	});
}

/** Clicks zoom to fit and waits for the canvas to stop moving. */
async function zoomToFit(page) {
	await page.getByTestId('zoom-to-fit').click();
	let last = '';
	for (let i = 0; i < 40; i++) {
		await page.waitForTimeout(100);
		const now = await readTransform(page);
		if (now === last) return;
		last = now;
	}
}

/**
 * The boxes the editor rendered, in canvas units (the workflow's coordinates): every node's body,
 * the text under it (name and subtitle) and its handles' labels, and every sticky note with the
 * height its text needs. Also the zoom.
 */
function measureCanvas(page) {
	return page.evaluate(() => {
		const pane = document.querySelector('.vue-flow__transformationpane');
		const m = /translate\(([-\d.]+)px,\s*([-\d.]+)px\)\s*scale\(([-\d.]+)\)/.exec(
			pane.style.transform,
		);
		const [tx, ty, zoom] = m ? m.slice(1).map(Number) : [0, 0, 1];
		const origin = document.querySelector('.vue-flow').getBoundingClientRect();
		const toCanvas = (r) => ({
			x: (r.left - origin.left - tx) / zoom,
			y: (r.top - origin.top - ty) / zoom,
			w: r.width / zoom,
			h: r.height / zoom,
		});
		const union = (rects) => {
			const rs = rects.filter((r) => r.width > 0 && r.height > 0);
			if (!rs.length) return undefined;
			const left = Math.min(...rs.map((r) => r.left));
			const top = Math.min(...rs.map((r) => r.top));
			const right = Math.max(...rs.map((r) => r.right));
			const bottom = Math.max(...rs.map((r) => r.bottom));
			return { left, top, width: right - left, height: bottom - top };
		};
		/** The box of the text actually drawn under `root` (text nodes, not their containers). */
		const textBox = (root, skip) => {
			const rects = [];
			const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
			for (let t = walker.nextNode(); t; t = walker.nextNode()) {
				if (!t.textContent.trim() || (skip && skip(t.parentElement))) continue;
				const style = getComputedStyle(t.parentElement);
				if (style.visibility === 'hidden' || style.display === 'none') continue;
				const range = document.createRange();
				range.selectNodeContents(t);
				rects.push(...range.getClientRects());
			}
			const box = union(rects);
			return box && { ...toCanvas(box), text: root.innerText.trim() };
		};
		const nodes = [
			...document.querySelectorAll('[data-test-id="canvas-node"][data-node-name]'),
		].map((el) => {
			const body = el.querySelector('[data-canvas-node-render-type]') ?? el;
			const handles = [
				...el.querySelectorAll(
					'[data-test-id="canvas-node-output-handle"], [data-test-id="canvas-node-input-handle"]',
				),
			];
			const inHandle = (e) => handles.some((h) => h.contains(e));
			const toolbar = el.querySelector('[data-test-id="canvas-node-toolbar"]');
			return {
				name: el.getAttribute('data-node-name'),
				type: el.getAttribute('data-node-type'),
				box: toCanvas(body.getBoundingClientRect()),
				label: textBox(body, (e) => inHandle(e) || (toolbar && toolbar.contains(e))),
				handleLabels: handles
					.map((h) => {
						const box = textBox(h);
						if (!box) return undefined;
						// n8n clips a long label with an ellipsis: the text is wider than its box
						const cut = [...h.querySelectorAll('*')].some(
							(e) =>
								e.scrollWidth > e.clientWidth + 1 &&
								getComputedStyle(e).textOverflow === 'ellipsis',
						);
						return { ...box, handle: h.getAttribute('data-handleid'), cut };
					})
					.filter(Boolean),
			};
		});
		// every connection as points along its drawn path (already in canvas units: the paths live in
		// the transformation pane); the path's id names its source and target handles
		const edges = [...document.querySelectorAll('[data-test-id="edge"]')].flatMap((g) => {
			const path = g.querySelector('path.vue-flow__edge-path');
			if (!path) return [];
			const ends = /^\[[^/]+\/([^\]]+)\]\[[^/]+\/([^\]]+)\]/.exec(path.id);
			const length = path.getTotalLength();
			const points = [];
			for (let d = 0; d <= length; d += 3) {
				const pt = path.getPointAtLength(d);
				points.push([pt.x, pt.y]);
			}
			return [
				{
					source: g.getAttribute('data-source-node-name'),
					target: g.getAttribute('data-target-node-name'),
					sourceHandle: ends?.[1],
					targetHandle: ends?.[2],
					points,
				},
			];
		});
		const stickies = [...document.querySelectorAll('[data-test-id="sticky"]')].map((el) => {
			const content = el.firstElementChild ?? el;
			return {
				name: el.closest('[data-node-name]')?.getAttribute('data-node-name'),
				box: toCanvas(el.getBoundingClientRect()),
				// the text's height against the note's: more means the note cuts its text off
				textHeight: content.scrollHeight,
				visibleHeight: content.clientHeight,
			};
		});
		return { zoom, nodes, stickies, edges };
	});
}

const overlap = (a, b, eps = 0.5) =>
	a.x + eps < b.x + b.w && b.x + eps < a.x + a.w && a.y + eps < b.y + b.h && b.y + eps < a.y + a.h;
const fmt = (r) =>
	`[${Math.round(r.x)}, ${Math.round(r.y)}, ${Math.round(r.w)}×${Math.round(r.h)}]`;

const inside = ([x, y], r, eps) =>
	x > r.x + eps && x < r.x + r.w - eps && y > r.y + eps && y < r.y + r.h - eps;

/**
 * Where a connection runs through something drawn: another node's body (its own source and target
 * excepted; `node`), or any node's name or handle label but the one it starts or ends at, on which
 * n8n draws the line itself (`text`). A line within 4 units of a body's border reads as running
 * along it, not through it.
 */
function edgeCrossings({ nodes, edges = [] }) {
	const found = [];
	for (const e of edges) {
		const hits = new Map();
		for (const n of nodes) {
			const own = n.name === e.source || n.name === e.target;
			const parts = [
				...(own ? [] : [{ kind: 'node', what: 'node', r: n.box, eps: 4 }]),
				...(n.label
					? [{ kind: 'text', what: `name "${n.label.text.replace(/\n/g, ' / ')}"`, r: n.label }]
					: []),
				...n.handleLabels
					.filter(
						(h) =>
							!(n.name === e.source && h.handle === e.sourceHandle) &&
							!(n.name === e.target && h.handle === e.targetHandle),
					)
					.map((h) => ({ kind: 'text', what: `handle label "${h.text}"`, r: h })),
			];
			for (const part of parts) {
				const key = `"${n.name}" ${part.what}`;
				const at = e.points.find((p) => inside(p, part.r, part.eps ?? 1));
				if (at && !hits.has(key)) hits.set(key, { kind: part.kind, at });
			}
		}
		for (const [what, { kind, at }] of hits)
			found.push({
				kind,
				text: `the connection "${e.source}" → "${e.target}" runs through ${what} at [${Math.round(at[0])}, ${Math.round(at[1])}]`,
			});
	}
	return found;
}

/**
 * What reads badly on the measured canvas, as sentences: node bodies, the names under them and
 * their handle labels overlapping every other node's, and sticky notes; stickies overlapping each
 * other; sticky text cut off by its note; a handle label n8n cut off with an ellipsis; a connection
 * running through another node. (Lines across names and labels: edgeCrossings, kind 'text'.)
 */
function canvasProblems({ nodes, stickies, edges = [] }) {
	const found = [];
	for (const n of nodes)
		for (const h of n.handleLabels)
			if (h.cut) found.push(`"${n.name}" handle label "${h.text}" is cut off (ellipsis)`);
	const parts = (n) => [
		{ what: 'node', r: n.box },
		...(n.label ? [{ what: `name "${n.label.text.replace(/\n/g, ' / ')}"`, r: n.label }] : []),
		...n.handleLabels.map((h) => ({ what: `handle label "${h.text}"`, r: h })),
	];
	for (let i = 0; i < nodes.length; i++) {
		for (let j = i + 1; j < nodes.length; j++) {
			for (const a of parts(nodes[i]))
				for (const b of parts(nodes[j]))
					if (overlap(a.r, b.r))
						found.push(
							`"${nodes[i].name}" ${a.what} ${fmt(a.r)} overlaps "${nodes[j].name}" ${b.what} ${fmt(b.r)}`,
						);
		}
		for (const s of stickies)
			for (const a of parts(nodes[i]))
				if (overlap(a.r, s.box))
					found.push(
						`"${nodes[i].name}" ${a.what} ${fmt(a.r)} lies on sticky "${s.name}" ${fmt(s.box)}`,
					);
	}
	for (let i = 0; i < stickies.length; i++) {
		for (let j = i + 1; j < stickies.length; j++)
			if (overlap(stickies[i].box, stickies[j].box))
				found.push(`stickies "${stickies[i].name}" and "${stickies[j].name}" overlap`);
		if (stickies[i].textHeight > stickies[i].visibleHeight + 1)
			found.push(
				`sticky "${stickies[i].name}" cuts its text off (${stickies[i].textHeight} px of text in ${stickies[i].visibleHeight} px)`,
			);
	}
	for (const c of edgeCrossings({ nodes, edges })) if (c.kind === 'node') found.push(c.text);
	return found;
}

/**
 * Runs the workflow from the named trigger with the "Execute workflow" button n8n shows on it, and
 * waits until the canvas shows the run over: the trigger ran and no node is running any more.
 */
async function executeFromTrigger(page, triggerName, { timeoutMs = 60_000 } = {}) {
	const trigger = page.locator(`[data-test-id="canvas-node"][data-node-name="${triggerName}"]`);
	await trigger.hover();
	await page.getByTestId(`execute-workflow-button-${triggerName}`).click();
	await trigger.getByTestId('canvas-node-status-success').waitFor({ timeout: timeoutMs });
	const deadline = Date.now() + timeoutMs;
	let quiet = 0;
	while (quiet < 3) {
		if (Date.now() > deadline) throw new Error(`the run from "${triggerName}" did not end`);
		await page.waitForTimeout(250);
		const running = await page.getByTestId('canvas-node-status-running').count();
		quiet = running ? 0 : quiet + 1;
	}
}

/** Opens a node's panel from the canvas (double click). */
async function openNode(page, name) {
	await page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`).dblclick();
	await page.getByTestId('ndv').waitFor();
}

/** The item counts the canvas shows on each connection out of `source`: { target: "1 item" }. */
function edgeCounts(page, source) {
	return page.evaluate((from) => {
		const out = {};
		for (const el of document.querySelectorAll(
			`[data-test-id="edge-label"][data-source-node-name="${from.replace(/"/g, '\\"')}"]`,
		)) {
			const text = el.textContent.trim();
			if (text) out[el.getAttribute('data-target-node-name')] = text;
		}
		return out;
	}, source);
}

/**
 * Creates an AI Service credential in the credential dialog (Credentials → Create credential),
 * saves it, which runs its test, and returns what the dialog says: { ok, message }.
 */
async function testCredentialInDialog(page, url, { baseUrl, apiKey, name }) {
	await closeOverlays(page);
	await go(page, url, '/home/credentials', page.getByTestId('add-resource-credential'));
	await page.getByTestId('add-resource-credential').click();
	await page.getByRole('combobox', { name: 'Search for app...' }).fill('AI Service');
	await page
		.getByTestId('new-credential-type-select-option')
		.filter({ hasText: /^AI Service API$/ })
		.click();
	await page.getByTestId('new-credential-type-button').click();
	const modal = page.getByTestId('editCredential-modal');
	if (name) {
		await modal.getByTestId('credential-name').click();
		await modal.getByTestId('inline-edit-input').fill(name);
		await modal.getByTestId('inline-edit-input').press('Enter');
	}
	await modal.getByTestId('parameter-input-baseUrl').locator('input').fill(baseUrl);
	await modal.getByTestId('parameter-input-apiKey').locator('input').fill(apiKey);
	await modal.getByTestId('credential-save-button').click();
	const success = modal.getByText('Connection tested successfully');
	const failure = modal.getByText('Couldn’t connect with these settings');
	await success.or(failure).first().waitFor({ timeout: 30_000 });
	let result = { ok: true, message: 'Connection tested successfully' };
	if (!(await success.isVisible())) {
		const details = modal.getByText('More details');
		if (await details.isVisible()) await details.click();
		const text = await modal.innerText();
		const after = text.slice(text.indexOf('Couldn’t connect with these settings'));
		const message = after
			.split('\n')
			.map((l) => l.trim())
			.filter((l) => l && !/^(Couldn’t connect|More details|Retry)/.test(l))[0];
		result = { ok: false, message };
	}
	await modal.getByRole('button', { name: 'Close this dialog' }).click();
	await modal.waitFor({ state: 'hidden' });
	return result;
}

/**
 * A PNG of the canvas zoomed to fit, cropped to the workflow (nodes, names, stickies) with a
 * margin, without the editor's floating buttons, at device scale 1; scaled down if it is bigger
 * than `maxBytes`. Returns the bytes.
 */
async function canvasScreenshot(page, { path, maxBytes = 200_000, margin = 24 } = {}) {
	await zoomToFit(page);
	await page.mouse.move(0, VIEWPORT.height - 1);
	const clip = await page.evaluate((pad) => {
		const hide = (el) => el && (el.style.visibility = 'hidden');
		for (const id of [
			'canvas-controls',
			'canvas-minimap',
			'node-creator-plus-button',
			'command-bar-button',
			'add-sticky-button',
			'toggle-focus-panel-button',
			'instance-ai-canvas-action-button',
			'radio-button-workflow',
		])
			for (const el of document.querySelectorAll(`[data-test-id="${id}"]`))
				hide(id === 'radio-button-workflow' ? el.parentElement : el);
		// the Execute workflow button sits in a tooltip wrapper inside a group with its trigger menu
		// (a workflow with several triggers): hide the largest small box around the button
		let run = document.querySelector('[data-test-id="execute-workflow-button"]');
		for (let up = run?.parentElement; up; up = up.parentElement) {
			const r = up.getBoundingClientRect();
			if (r.width > 600 || r.height > 120) break;
			run = up;
		}
		hide(run);
		const wrapper = document
			.querySelector('[data-test-id="canvas-wrapper"]')
			.getBoundingClientRect();
		const parts = document.querySelectorAll(
			'[data-test-id="canvas-node"], [data-test-id="canvas-node"] *, [data-test-id="sticky"]',
		);
		let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
		for (const el of parts) {
			if (el.closest('[data-test-id="canvas-node-toolbar"]')) continue;
			const r = el.getBoundingClientRect();
			if (!r.width || !r.height) continue;
			[x0, y0, x1, y1] = [
				Math.min(x0, r.left),
				Math.min(y0, r.top),
				Math.max(x1, r.right),
				Math.max(y1, r.bottom),
			];
		}
		const left = Math.max(wrapper.left, x0 - pad);
		const top = Math.max(wrapper.top, y0 - pad);
		const right = Math.min(wrapper.right, x1 + pad);
		const bottom = Math.min(wrapper.bottom, y1 + pad);
		return {
			x: Math.round(left),
			y: Math.round(top),
			width: Math.round(right - left),
			height: Math.round(bottom - top),
		};
	}, margin);
	let png = await page.screenshot({ clip, animations: 'disabled', type: 'png' });
	if (png.length > maxBytes) png = await shrink(page, png, maxBytes);
	if (path) require('node:fs').writeFileSync(path, png);
	return png;
}

/** A PNG of the open node panel (the dialog itself), shrunk like canvasScreenshot's. */
async function panelScreenshot(page, { path, maxBytes = 200_000 } = {}) {
	await page.mouse.move(0, VIEWPORT.height - 1);
	let png = await page
		.getByTestId('ndv')
		.locator('.el-dialog, [role="dialog"]')
		.first()
		.screenshot({ animations: 'disabled', type: 'png' })
		.catch(() => page.getByTestId('ndv').screenshot({ animations: 'disabled', type: 'png' }));
	if (png.length > maxBytes) png = await shrink(page, png, maxBytes);
	if (path) require('node:fs').writeFileSync(path, png);
	return png;
}

/** Scales a PNG down in the browser (canvas drawImage, smooth) until it fits in `maxBytes`. */
async function shrink(page, png, maxBytes) {
	const scratch = await page.context().newPage();
	try {
		for (const factor of [0.85, 0.72, 0.6, 0.5, 0.4]) {
			const dataUrl = await scratch.evaluate(
				async ({ src, factor: f }) => {
					const img = new Image();
					img.src = src;
					await img.decode();
					const c = document.createElement('canvas');
					c.width = Math.round(img.width * f);
					c.height = Math.round(img.height * f);
					const g = c.getContext('2d');
					g.imageSmoothingQuality = 'high';
					g.drawImage(img, 0, 0, c.width, c.height);
					return c.toDataURL('image/png');
				},
				{ src: `data:image/png;base64,${png.toString('base64')}`, factor },
			);
			const out = Buffer.from(dataUrl.split(',')[1], 'base64');
			if (out.length <= maxBytes) return out;
		}
		throw new Error(`screenshot stays over ${maxBytes} bytes even at 40 %`);
	} finally {
		await scratch.close();
	}
}

module.exports = {
	CHROMIUM,
	CHROMIUM_ARGS,
	VIEWPORT,
	launchEditorBrowser,
	signIn,
	go,
	newWorkflowWithTrigger,
	openNodeCreator,
	openNodeCreatorFromInput,
	inputSlotOffersAdd,
	searchNodes,
	listedNodes,
	addFromSearch,
	selectParameterOption,
	panelProblems,
	panelCredentials,
	closePanel,
	closeOverlays,
	canvasNodeProblems,
	canvasNodeIssues,
	openWorkflow,
	zoomToFit,
	measureCanvas,
	canvasProblems,
	edgeCrossings,
	executeFromTrigger,
	openNode,
	edgeCounts,
	testCredentialInDialog,
	canvasScreenshot,
	panelScreenshot,
};
