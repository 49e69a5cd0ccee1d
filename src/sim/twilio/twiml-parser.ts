/**
 * A small, strict XML reader for TwiML documents: elements, attributes, text, CDATA, comments,
 * the XML declaration and the five named entities plus numeric references. No DTDs, no
 * namespaces beyond keeping prefixed names as they are. Good enough to read what Twilio reads,
 * and strict enough to report what Twilio would reject (unclosed tags, bad nesting).
 */

export interface TwimlNode {
  name: string;
  attrs: Record<string, string>;
  children: TwimlNode[];
  /** concatenated text content directly inside this element, trimmed */
  text: string;
}

export class TwimlParseError extends Error {
  override name = 'TwimlParseError';
}

const MAX_DEPTH = 32;
const MAX_CHARS = 256 * 1024;

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string, at: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);|&/g, (m, ent: string | undefined) => {
    if (!ent) throw new TwimlParseError(`bare "&" near offset ${at}`);
    if (ent[0] === '#') {
      const code = ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new TwimlParseError(`bad character reference ${m}`);
      return String.fromCodePoint(code);
    }
    const v = NAMED[ent];
    if (v === undefined) throw new TwimlParseError(`unknown entity ${m}`);
    return v;
  });
}

const NAME_RE = /[A-Za-z_:][A-Za-z0-9_.:-]*/y;
const WS_RE = /\s*/y;
const ATTR_VALUE_RE = /"([^"<]*)"|'([^'<]*)'/y;

/** Parses a whole document and returns its root element. */
export function parseTwimlXml(xml: string): TwimlNode {
  if (typeof xml !== 'string') throw new TwimlParseError('document is not text');
  if (xml.length > MAX_CHARS) throw new TwimlParseError('document too large');
  let pos = 0;
  const stack: TwimlNode[] = [];
  let root: TwimlNode | undefined;
  const textParts: string[][] = [];

  const skipWs = () => {
    WS_RE.lastIndex = pos;
    WS_RE.exec(xml);
    pos = WS_RE.lastIndex;
  };
  const readName = (): string => {
    NAME_RE.lastIndex = pos;
    const m = NAME_RE.exec(xml);
    if (!m) throw new TwimlParseError(`expected a name at offset ${pos}`);
    pos = NAME_RE.lastIndex;
    return m[0];
  };
  const addText = (t: string) => {
    if (stack.length === 0) {
      if (t.trim() !== '') throw new TwimlParseError(`text outside the root element at offset ${pos}`);
      return;
    }
    textParts[textParts.length - 1]!.push(t);
  };

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    if (lt < 0) {
      addText(decodeEntities(xml.slice(pos), pos));
      break;
    }
    if (lt > pos) addText(decodeEntities(xml.slice(pos, lt), pos));
    pos = lt;
    if (xml.startsWith('<?', pos)) {
      const end = xml.indexOf('?>', pos);
      if (end < 0) throw new TwimlParseError('unterminated processing instruction');
      pos = end + 2;
    } else if (xml.startsWith('<!--', pos)) {
      const end = xml.indexOf('-->', pos + 4);
      if (end < 0) throw new TwimlParseError('unterminated comment');
      pos = end + 3;
    } else if (xml.startsWith('<![CDATA[', pos)) {
      const end = xml.indexOf(']]>', pos);
      if (end < 0) throw new TwimlParseError('unterminated CDATA');
      addText(xml.slice(pos + 9, end));
      pos = end + 3;
    } else if (xml.startsWith('<!', pos)) {
      throw new TwimlParseError('DOCTYPE and other declarations are not allowed');
    } else if (xml.startsWith('</', pos)) {
      pos += 2;
      const name = readName();
      skipWs();
      if (xml[pos] !== '>') throw new TwimlParseError(`malformed closing tag </${name} at offset ${pos}`);
      pos++;
      const open = stack.pop();
      if (!open || open.name !== name)
        throw new TwimlParseError(`</${name}> does not close <${open?.name ?? 'nothing'}>`);
      open.text = textParts.pop()!.join('').trim();
    } else {
      pos++;
      const node: TwimlNode = { name: readName(), attrs: {}, children: [], text: '' };
      for (;;) {
        skipWs();
        if (xml.startsWith('/>', pos) || xml[pos] === '>') break;
        if (pos >= xml.length) throw new TwimlParseError(`unterminated <${node.name}>`);
        const attr = readName();
        skipWs();
        if (xml[pos] !== '=') throw new TwimlParseError(`attribute ${attr} without a value`);
        pos++;
        skipWs();
        ATTR_VALUE_RE.lastIndex = pos;
        const m = ATTR_VALUE_RE.exec(xml);
        if (!m) throw new TwimlParseError(`attribute ${attr} needs a quoted value`);
        pos = ATTR_VALUE_RE.lastIndex;
        if (Object.prototype.hasOwnProperty.call(node.attrs, attr))
          throw new TwimlParseError(`duplicate attribute ${attr}`);
        node.attrs[attr] = decodeEntities(m[1] ?? m[2] ?? '', pos);
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else if (root) throw new TwimlParseError('more than one root element');
      else root = node;
      if (xml.startsWith('/>', pos)) {
        pos += 2;
      } else {
        pos++;
        if (stack.length >= MAX_DEPTH) throw new TwimlParseError('elements nested too deeply');
        stack.push(node);
        textParts.push([]);
      }
    }
  }
  if (stack.length > 0) throw new TwimlParseError(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new TwimlParseError('no root element');
  return root;
}

/** Parses a TwiML document and checks that its root is `<Response>`. */
export function parseTwiml(xml: string): TwimlNode {
  const root = parseTwimlXml(xml);
  if (root.name !== 'Response') throw new TwimlParseError(`root element is <${root.name}>, expected <Response>`);
  return root;
}

/** A one-line sketch of a document for the timeline: `<Say>… <Dial><Number>+1555…</Number></Dial>`. */
export function sketchTwiml(node: TwimlNode, max = 120): string {
  const one = (n: TwimlNode): string => {
    const inner = n.children.map(one).join('') + (n.text ? n.text.slice(0, 40) : '');
    return inner ? `<${n.name}>${inner}</${n.name}>` : `<${n.name}/>`;
  };
  const s = node.children.map(one).join('');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
