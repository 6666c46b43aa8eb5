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
export function addFromSearch(page: Page, displayName: string): Promise<void>;
export interface Problems {
	issues: string[];
	undefinedText: string[];
}
export function panelProblems(page: Page): Promise<Problems>;
export function closePanel(page: Page): Promise<void>;
export function closeOverlays(page: Page): Promise<void>;
export function canvasNodeProblems(page: Page, name: string): Promise<Problems & { text: string }>;
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
export interface MeasuredNode {
	name: string;
	type: string;
	box: Box;
	/** the name and subtitle under the node, as drawn */
	label?: TextBox;
	handleLabels: TextBox[];
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
}
export function measureCanvas(page: Page): Promise<Canvas>;
export function canvasProblems(canvas: Canvas): string[];
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
