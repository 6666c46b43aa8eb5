'use strict';
// A model of how n8n 2.41's editor draws a workflow, so the samples' layout can be checked (and
// their sticky notes sized) without a browser. Every figure below comes from n8n's editor source
// (packages/frontend/editor-ui, checked against the 2.41 build in n8n-editor-ui/dist):
//
// - nodeViewUtils.ts: GRID_SIZE 16 (the canvas snaps to it), DEFAULT_NODE_SIZE [96, 96];
//   calculateNodeSize(): height = 96 + max(0, max(inputs, outputs, 1) - 2) * 32, width 96
//   (trigger nodes too: only their left corners are rounder).
// - CanvasNodeDefault.vue: the name sits under the node in `.description` (top: 100%,
//   margin-top 8 px, width max(100%, 2 × node width) = 192 px, centred on the node); the name
//   is 16 px Inter medium, line-height 1.25, at most 2 lines (-webkit-line-clamp: 2, wraps
//   anywhere); then a 4 px gap and the subtitle, 13 px on one line (nowrap, ellipsis).
// - CanvasHandleMainOutput/Input.vue: output labels start 20 px right of the node edge (12 px
//   font, at most 96 px wide once connected); input labels end 12 px left of it. Handles sit at
//   (i + 1) / (n + 1) of the node's height.
// - N8nSticky / N8nMarkdown: a sticky note is `parameters.width` × `parameters.height` (default
//   240 × 160) from its position; its text box has 8 px padding on top and 12 px on the sides;
//   markdown-it with `breaks: true`; h2 24 px bold, h3 16 px bold (line-height 1.35, 8 px below),
//   paragraphs 14 px (line-height 1.35, 8 px below), list items 14 px (line-height 1.3, 3.5 px
//   above), lists indented 20 px with 8 px below.
// - Zoom to fit: vue-flow fitView({ maxZoom: 1, padding: 0.2 }) over the nodes' boxes.
//
// Character widths: Inter (the editor's InterVariable.woff2) measured once in Chromium, in
// thousandths of the font size, for the characters ' ' to '~'; CommitMono (code) is 0.6 em.

const GRID = 16;
const NODE = { width: 96, height: 96, perExtraHandle: 32 };
const LABEL = { marginTop: 7, width: 192, fontSize: 16, weight: 500, lineHeight: 20, maxLines: 2 }; // marginTop and offset measured in Chromium on n8n 2.41.1
const SUBTITLE = { gap: 4, fontSize: 13, weight: 400, lineHeight: 16.25 };
const HANDLE_LABEL = { offset: 12, inputOffset: 12, fontSize: 12, maxWidth: 96, height: 15 };
const STICKY = { padTop: 8, padX: 12, border: 1, defaultWidth: 240, defaultHeight: 160 };
const FIT = { padding: 0.2, maxZoom: 1 };

// prettier-ignore
const EM = {
	400: [281,288,466,633,642,982,644,300,365,365,501,662,288,460,288,360,631,407,610,618,646,593,620,585,619,620,288,302,662,662,662,511,966,704,654,731,722,601,590,746,743,269,571,672,565,903,753,765,639,765,644,642,646,744,704,1009,682,679,629,365,314,365,471,456,323,562,612,571,612,583,333,613,591,242,242,549,242,876,591,600,612,612,391,528,327,591,562,818,546,562,552,426,333,426,662],
	500: [263,296,487,635,644,980,650,307,362,362,517,664,295,460,295,366,643,410,612,625,653,601,626,585,626,626,295,306,664,664,664,528,983,719,655,732,719,602,586,746,741,269,572,684,563,908,752,765,639,767,647,644,649,736,719,1020,697,692,638,362,319,362,473,462,328,564,614,572,614,583,336,615,597,248,248,555,248,884,597,599,614,614,393,533,332,597,569,823,553,570,552,437,342,437,664],
	700: [237,338,552,649,655,1016,672,339,377,377,559,679,334,468,334,388,674,431,630,646,676,622,649,600,651,649,334,343,679,679,679,560,1016,761,662,740,722,607,587,751,747,281,585,719,565,932,762,771,648,777,657,655,668,732,761,1058,738,731,664,377,342,377,487,476,365,581,630,588,630,596,358,632,623,271,271,580,271,913,623,613,630,630,414,560,356,623,600,850,580,602,573,469,372,469,679],
};
const MONO_EM = 0.6;
/** Characters outside the table (→, …, ·, curly quotes): a wide letter, to err on the safe side. */
const OTHER_EM = 0.75;

/** Width in px of one character; `style` is { size, weight, mono }. */
function charWidth(ch, { size, weight = 400, mono = false }) {
	if (mono) return MONO_EM * size;
	const code = ch.charCodeAt(0);
	const em = code >= 32 && code < 127 ? EM[weight][code - 32] / 1000 : OTHER_EM;
	return em * size;
}

function textWidth(text, style) {
	let w = 0;
	for (const ch of text) w += charWidth(ch, style);
	return w;
}

/**
 * Breaks styled text ([{ ch, style }]) into lines no wider than `width`, at spaces; a word longer
 * than a line is broken anywhere (overflow-wrap). Returns the lines' widths.
 */
function wrap(chars, width) {
	const words = [];
	let word = [];
	for (const c of chars) {
		if (c.ch === ' ') {
			if (word.length) words.push(word);
			word = [];
		} else word.push(c);
	}
	if (word.length) words.push(word);
	const lines = [];
	let line = 0;
	const wordWidth = (w) => w.reduce((s, c) => s + charWidth(c.ch, c.style), 0);
	for (const w of words) {
		const space = line > 0 ? charWidth(' ', w[0].style) : 0;
		let ww = wordWidth(w);
		if (line > 0 && line + space + ww <= width) {
			line += space + ww;
			continue;
		}
		if (line > 0) lines.push(line);
		line = 0;
		// a word wider than the line breaks anywhere
		for (const c of w) {
			const cw = charWidth(c.ch, c.style);
			if (line + cw > width && line > 0) {
				lines.push(line);
				line = 0;
			}
			line += cw;
		}
		ww = 0;
	}
	if (line > 0 || lines.length === 0) lines.push(line);
	return lines;
}

const plain = (text, style) => [...text].map((ch) => ({ ch, style }));

/** The name under a node: its lines' widths (before the 2-line clamp). */
function labelLines(name) {
	return wrap(plain(name, { size: LABEL.fontSize, weight: LABEL.weight }), LABEL.width);
}

// --- sticky notes -----------------------------------------------------------------------------

/** Markdown inline text as styled characters: **bold**, `code`; links and escapes as text. */
function inline(text, size) {
	const out = [];
	let bold = false;
	let code = false;
	for (let i = 0; i < text.length; i++) {
		if (!code && text.startsWith('**', i)) {
			bold = !bold;
			i++;
			continue;
		}
		if (text[i] === '`') {
			code = !code;
			continue;
		}
		out.push({ ch: text[i], style: { size, weight: bold ? 700 : 400, mono: code } });
	}
	return out;
}

/**
 * Height in px the sticky's markdown needs at `width` (the note's width), padding included:
 * what the note must at least be so that none of its text is cut off.
 */
function markdownHeight(content, width) {
	const inner = width - 2 * STICKY.padX - 2 * STICKY.border;
	let height = STICKY.padTop + 2 * STICKY.border;
	const blocks = [];
	for (const line of String(content).split('\n')) {
		const heading = /^(#{1,6})\s+(.*)$/.exec(line);
		const item = /^\s*(?:[-*+]|\d+\.)\s+(.*)$/.exec(line);
		const last = blocks[blocks.length - 1];
		if (!line.trim()) blocks.push({ kind: 'blank' });
		else if (heading) blocks.push({ kind: `h${heading[1].length}`, lines: [heading[2]] });
		else if (item) {
			if (last?.kind === 'list') last.lines.push(item[1]);
			else blocks.push({ kind: 'list', lines: [item[1]] });
		} else if (last?.kind === 'p') last.lines.push(line);
		else blocks.push({ kind: 'p', lines: [line] });
	}
	for (const block of blocks) {
		if (block.kind === 'blank') continue;
		if (block.kind === 'list') {
			for (const item of block.lines)
				height += 3.5 + wrap(inline(item, 14), inner - 20).length * 14 * 1.3;
			height += 8;
			continue;
		}
		const [size, lineHeight] =
			block.kind === 'h1'
				? [36, 1.35]
				: block.kind === 'h2'
					? [24, 1.35]
					: block.kind === 'p'
						? [14, 1.35]
						: [16, 1.35];
		// breaks: true — every source line of a paragraph starts a new line
		for (const line of block.lines) {
			const chars = inline(line, size).map((c) =>
				block.kind === 'p' ? c : { ...c, style: { ...c.style, weight: 700 } },
			);
			height += wrap(chars, inner).length * size * lineHeight;
		}
		height += 8;
	}
	return height;
}

// --- boxes ------------------------------------------------------------------------------------

/**
 * The boxes n8n draws for a workflow. `info(node)` tells what the model cannot read from the
 * JSON alone: { inputs: string[] | number, outputs: (string | undefined)[], subtitle?: string |
 * true } — handle labels (undefined: none), and the subtitle text (true: one of unknown length).
 */
function boxes(workflow, info) {
	const nodes = [];
	const stickies = [];
	for (const node of workflow.nodes) {
		const [x, y] = node.position;
		if (node.type === 'n8n-nodes-base.stickyNote') {
			const width = node.parameters.width ?? STICKY.defaultWidth;
			const height = node.parameters.height ?? STICKY.defaultHeight;
			stickies.push({ name: node.name, x, y, w: width, h: height, node });
			continue;
		}
		const { inputs, outputs, subtitle } = info(node);
		const inputLabels = Array.isArray(inputs) ? inputs : Array(inputs).fill(undefined);
		const handles = Math.max(inputLabels.length, outputs.length, 1);
		const h = NODE.height + Math.max(0, handles - 2) * NODE.perExtraHandle;
		const w = NODE.width;
		const lines = labelLines(node.name);
		const shown = lines.slice(0, LABEL.maxLines);
		let labelW = Math.max(...shown);
		let labelH = shown.length * LABEL.lineHeight;
		if (subtitle) {
			const sw =
				subtitle === true
					? LABEL.width
					: Math.min(LABEL.width, textWidth(subtitle, { size: SUBTITLE.fontSize }));
			labelW = Math.max(labelW, sw);
			labelH += SUBTITLE.gap + SUBTITLE.lineHeight;
		}
		const cx = x + w / 2;
		const label = { x: cx - labelW / 2, y: y + h + LABEL.marginTop, w: labelW, h: labelH };
		const handleLabels = [];
		const handleY = (i, n) => y + (h * (i + 1)) / (n + 1);
		outputs.forEach((text, i) => {
			if (!text) return;
			const tw = Math.min(HANDLE_LABEL.maxWidth, textWidth(text, { size: HANDLE_LABEL.fontSize }));
			const hy = handleY(i, outputs.length);
			handleLabels.push({
				x: x + w + HANDLE_LABEL.offset,
				y: hy - HANDLE_LABEL.height / 2,
				w: tw,
				h: HANDLE_LABEL.height,
				text,
			});
		});
		inputLabels.forEach((text, i) => {
			if (!text) return;
			const tw = textWidth(text, { size: HANDLE_LABEL.fontSize });
			const hy = handleY(i, inputLabels.length);
			handleLabels.push({
				x: x - HANDLE_LABEL.inputOffset - tw,
				y: hy - HANDLE_LABEL.height / 2,
				w: tw,
				h: HANDLE_LABEL.height,
				text,
			});
		});
		nodes.push({
			name: node.name,
			node,
			box: { x, y, w, h },
			label,
			truncated: lines.length > LABEL.maxLines,
			handleLabels,
			outputs: outputs.length,
			inputs: inputLabels.length,
		});
	}
	return { nodes, stickies };
}

const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const round = (n) => Math.round(n);
const fmt = (r) => `[${round(r.x)}, ${round(r.y)}, ${round(r.w)}×${round(r.h)}]`;

/** Points along the edge n8n draws from an output handle to an input handle (vue-flow bezier). */
function edgePoints(from, output, to, input) {
	const sx = from.box.x + from.box.w;
	const sy = from.box.y + (from.box.h * (output + 1)) / (from.outputs + 1);
	const tx = to.box.x;
	const ty = to.box.y + (to.box.h * (input + 1)) / (to.inputs + 1);
	const dx = tx - sx;
	const offset = dx >= 0 ? 0.5 * dx : 0.25 * 25 * Math.sqrt(-dx);
	const c1 = [sx + offset, sy];
	const c2 = [tx - offset, ty];
	const points = [];
	for (let i = 1; i < 40; i++) {
		const t = i / 40;
		const u = 1 - t;
		points.push([
			u ** 3 * sx + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * tx,
			u ** 3 * sy + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * ty,
		]);
	}
	return points;
}

/**
 * What a person would trip over on the canvas, as sentences (empty: none). `loops` lists
 * connections "From -> To" allowed to run right to left (a retry loop).
 */
function problems(workflow, info, { loops = [] } = {}) {
	const { nodes, stickies } = boxes(workflow, info);
	const found = [];
	const byName = new Map(nodes.map((n) => [n.name, n]));
	for (const a of nodes) {
		if (a.truncated) found.push(`"${a.name}": name longer than two lines, n8n cuts it off`);
		for (const b of nodes) {
			if (a === b) continue;
			if (a.name < b.name && overlap(a.box, b.box))
				found.push(`"${a.name}" ${fmt(a.box)} overlaps node "${b.name}" ${fmt(b.box)}`);
			if (overlap(a.box, b.label))
				found.push(`"${a.name}" ${fmt(a.box)} covers the name of "${b.name}" ${fmt(b.label)}`);
			if (a.name < b.name && overlap(a.label, b.label))
				found.push(`the names of "${a.name}" and "${b.name}" run into each other`);
			for (const hl of a.handleLabels)
				if (overlap(hl, b.box) || overlap(hl, b.label))
					found.push(`"${a.name}"'s handle label "${hl.text}" runs under "${b.name}"`);
		}
		for (const s of stickies)
			if (overlap(a.box, s) || overlap(a.label, s))
				found.push(`"${a.name}" sits on the sticky note "${s.name}"`);
	}
	for (const s of stickies) {
		for (const t of stickies)
			if (s.name < t.name && overlap(s, t))
				found.push(`sticky notes "${s.name}" and "${t.name}" overlap`);
		const needed = markdownHeight(s.node.parameters.content ?? '', s.w);
		if (s.h < needed)
			found.push(`sticky "${s.name}" is ${s.h} px tall, its text needs ${round(needed)} px`);
		if (s.h > 1.3 * needed)
			found.push(`sticky "${s.name}" is ${s.h} px tall for ${round(needed)} px of text`);
	}
	for (const [fromName, { main = [] }] of Object.entries(workflow.connections)) {
		const from = byName.get(fromName);
		if (!from) continue;
		main.forEach((links, output) => {
			for (const link of links ?? []) {
				const to = byName.get(link.node);
				if (!to) continue;
				const loop = loops.includes(`${fromName} -> ${link.node}`);
				if (!loop && to.box.x < from.box.x + from.box.w + GRID)
					found.push(`"${fromName}" → "${link.node}" runs right to left (or straight down)`);
				if (loop) continue;
				const points = edgePoints(from, output, to, link.index ?? 0);
				for (const other of nodes) {
					if (other === from || other === to) continue;
					const inner = {
						x: other.box.x + 4,
						y: other.box.y + 4,
						w: other.box.w - 8,
						h: other.box.h - 8,
					};
					const hit = points.some(
						([px, py]) =>
							px > inner.x && px < inner.x + inner.w && py > inner.y && py < inner.y + inner.h,
					);
					if (hit) found.push(`"${fromName}" → "${link.node}" runs behind "${other.name}"`);
				}
			}
		});
	}
	return found;
}

/** The zoom n8n's zoom-to-fit picks for a canvas of `width` × `height` px. */
function fitZoom(workflow, info, { width, height }) {
	const { nodes, stickies } = boxes(workflow, info);
	const rects = [...nodes.map((n) => n.box), ...stickies];
	const x0 = Math.min(...rects.map((r) => r.x));
	const y0 = Math.min(...rects.map((r) => r.y));
	const x1 = Math.max(...rects.map((r) => r.x + r.w));
	const y1 = Math.max(...rects.map((r) => r.y + r.h));
	const zoom = Math.min(
		width / ((x1 - x0) * (1 + FIT.padding)),
		height / ((y1 - y0) * (1 + FIT.padding)),
		FIT.maxZoom,
	);
	return { zoom, bounds: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } };
}

module.exports = {
	GRID,
	NODE,
	LABEL,
	SUBTITLE,
	HANDLE_LABEL,
	STICKY,
	FIT,
	textWidth,
	labelLines,
	markdownHeight,
	boxes,
	problems,
	fitZoom,
};
