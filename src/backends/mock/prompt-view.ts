// What the mock model "reads" from a request. It assumes validated params but never trusts a shape: anything
// unexpected is skipped rather than thrown on.
import { isJsonObject as isObj, type JsonObject } from '../../wire/json-object.ts';

type Obj = JsonObject;

/** A client tool the mock can call. */
export interface CustomTool {
  name: string;
  inputSchema: unknown;
}

/** The parts of a request that shape the mock's answer. */
export interface PromptView {
  /** Text of the last user turn (its text blocks joined by newlines); empty when it has none. */
  lastUserText: string;
  /** The system prompt's text (top-level `system` plus `role: "system"` turns). */
  systemText: string;
  /** Images and documents in the last user turn, including inside its tool results. */
  images: number;
  documents: number;
  /** Tool results in the last user turn. */
  toolResults: number;
  /** Client tools, in declaration order (server tools are run by a real upstream, never by the mock). */
  tools: CustomTool[];
  /** `tool_choice.type` (`auto` when absent) and, for `tool`, the forced name. */
  choice: { type: string; name: string | null };
}

/** Concatenated text of a string-or-blocks content value. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const b of content) {
    if (isObj(b) && b.type === 'text' && typeof b.text === 'string') out = out ? `${out}\n${b.text}` : b.text;
  }
  return out;
}

function countAttachments(content: unknown, view: PromptView): void {
  if (!Array.isArray(content)) return;
  for (const b of content) {
    if (!isObj(b)) continue;
    if (b.type === 'image') view.images++;
    else if (b.type === 'document') view.documents++;
    else if (b.type === 'tool_result') {
      view.toolResults++;
      countAttachments(b.content, view);
    }
  }
}

function readTools(tools: unknown): CustomTool[] {
  if (!Array.isArray(tools)) return [];
  const out: CustomTool[] = [];
  for (const t of tools) {
    if (!isObj(t) || typeof t.name !== 'string') continue;
    if (t.type !== undefined && t.type !== null && t.type !== 'custom') continue;
    out.push({ name: t.name, inputSchema: t.input_schema });
  }
  return out;
}

/** Extracts the mock's view of a request. */
export function readPrompt(params: Obj): PromptView {
  const view: PromptView = {
    lastUserText: '',
    systemText: contentText(params.system),
    images: 0,
    documents: 0,
    toolResults: 0,
    tools: readTools(params.tools),
    choice: { type: 'auto', name: null },
  };
  const messages = Array.isArray(params.messages) ? params.messages : [];
  let lastUser: Obj | null = null;
  for (const m of messages) {
    if (!isObj(m)) continue;
    if (m.role === 'user') lastUser = m;
    else if (m.role === 'system') {
      const text = contentText(m.content);
      if (text) view.systemText = view.systemText ? `${view.systemText}\n${text}` : text;
    }
  }
  if (lastUser) {
    view.lastUserText = contentText(lastUser.content);
    countAttachments(lastUser.content, view);
  }
  const choice = params.tool_choice;
  if (isObj(choice) && typeof choice.type === 'string') {
    view.choice = { type: choice.type, name: typeof choice.name === 'string' ? choice.name : null };
  }
  return view;
}
