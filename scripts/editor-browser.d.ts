// Types for scripts/editor-browser.js, so the browser suite (TypeScript) uses it checked.
import type { BrowserContext, Locator, Page } from 'playwright-core';

export const CHROMIUM: string;
export const CHROMIUM_ARGS: string[];
export const VIEWPORT: { width: number; height: number };

export interface EditorBrowser {
	context: BrowserContext;
	page: Page;
	close(): Promise<void>;
}
export function launchEditorBrowser(options?: {
	viewport?: { width: number; height: number };
}): Promise<EditorBrowser>;
export function signIn(
	page: Page,
	url: string,
	options?: { email?: string; password?: string },
): Promise<void>;
export function go(page: Page, url: string, path: string, ready: Locator): Promise<void>;
export function newWorkflowWithTrigger(page: Page, url: string): Promise<void>;
/** 'plus': the canvas's + button; 'key': the N shortcut. Returns the creator's heading. */
export function openNodeCreator(page: Page, via?: 'plus' | 'key'): Promise<string>;
export function searchNodes(page: Page, query: string): Promise<string[]>;
/** `action`: the action to take when the node lists actions (default: the first). */
export function addFromSearch(
	page: Page,
	displayName: string,
	options?: { action?: string },
): Promise<void>;
/** Picks an option by its listed name in the open panel's options parameter; returns the field's text. */
export function selectParameterOption(page: Page, name: string, option: string): Promise<string>;
export interface Problems {
	issues: string[];
	undefinedText: string[];
}
export function panelProblems(page: Page): Promise<Problems>;
export function closePanel(page: Page): Promise<void>;
export function closeOverlays(page: Page): Promise<void>;
export function canvasNodeProblems(page: Page, name: string): Promise<Problems & { text: string }>;
/** Opens the node creator from a node's input slot ("+" on e.g. ai_languageModel); returns its heading. */
export function openNodeCreatorFromInput(page: Page, nodeName: string, type: string): Promise<string>;
/** Whether a node's input slot of this type still offers its "+" (nothing connected). */
export function inputSlotOffersAdd(page: Page, nodeName: string, type: string): Promise<boolean>;
/** The node names the open node creator lists, as shown. */
export function listedNodes(page: Page): Promise<string[]>;
/** The credentials selected in the open panel. */
export function panelCredentials(page: Page): Promise<string[]>;
/** The issue texts a canvas node's issue marker shows on hover. */
export function canvasNodeIssues(page: Page, name: string): Promise<string[]>;
export function openWorkflow(page: Page, url: string, id: string): Promise<void>;
export function zoomToFit(page: Page): Promise<void>;

/** A box in canvas units (the workflow's coordinates). */
export interface Box {
	x: number;
	y: number;
	w: number;
	h: number;
}
export interface TextBox extends Box {
	text: string;
}
export interface HandleLabel extends TextBox {
	/** n8n's handle id, e.g. "outputs/main/1" */
	handle: string;
	/** n8n cut the label off with an ellipsis */
	cut: boolean;
}
export interface MeasuredNode {
	name: string;
	type: string;
	box: Box;
	/** the name and subtitle under the node, as drawn */
	label?: TextBox;
	handleLabels: HandleLabel[];
}
export interface MeasuredEdge {
	source: string;
	target: string;
	sourceHandle?: string;
	targetHandle?: string;
	/** points along the drawn path, every 3 canvas units */
	points: Array<[number, number]>;
}
export interface MeasuredSticky {
	name: string;
	box: Box;
	textHeight: number;
	visibleHeight: number;
}
export interface Canvas {
	zoom: number;
	nodes: MeasuredNode[];
	stickies: MeasuredSticky[];
	edges: MeasuredEdge[];
}
export function measureCanvas(page: Page): Promise<Canvas>;
export function canvasProblems(canvas: Canvas): string[];
/** Connections through another node ('node') or across a name or handle label ('text'). */
export function edgeCrossings(
	canvas: Pick<Canvas, 'nodes' | 'edges'>,
): Array<{ kind: 'node' | 'text'; text: string }>;
export function executeFromTrigger(
	page: Page,
	triggerName: string,
	options?: { timeoutMs?: number },
): Promise<void>;
export function openNode(page: Page, name: string): Promise<void>;
/** { target node name: "1 item" } for the connections out of `source` that carried items. */
export function edgeCounts(page: Page, source: string): Promise<Record<string, string>>;
export function testCredentialInDialog(
	page: Page,
	url: string,
	options: { baseUrl: string; apiKey: string; name?: string },
): Promise<{ ok: boolean; message: string }>;
export function canvasScreenshot(
	page: Page,
	options?: { path?: string; maxBytes?: number; margin?: number },
): Promise<Buffer>;
export function panelScreenshot(
	page: Page,
	options?: { path?: string; maxBytes?: number },
): Promise<Buffer>;
