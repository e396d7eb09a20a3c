// The subset of msgpack the protocol uses: nil, booleans, integers, float64,
// UTF-8 strings, binary, arrays and maps. No CDN, no dependency.
"use strict";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export function encode(value) {
  const out = [];
  write(value, out);
  return flatten(out);
}

function flatten(parts) {
  let length = 0;
  for (const p of parts) length += typeof p === "number" ? 1 : p.length;
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    if (typeof p === "number") bytes[at++] = p;
    else { bytes.set(p, at); at += p.length; }
  }
  return bytes;
}

function be(size, setter) {
  const view = new DataView(new ArrayBuffer(size));
  setter(view);
  return new Uint8Array(view.buffer);
}

function write(value, out) {
  if (value === null || value === undefined) out.push(0xc0);
  else if (value === false) out.push(0xc2);
  else if (value === true) out.push(0xc3);
  else if (typeof value === "number") writeNumber(value, out);
  else if (typeof value === "string") {
    const bytes = textEncoder.encode(value);
    const n = bytes.length;
    if (n < 32) out.push(0xa0 | n);
    else if (n < 256) out.push(0xd9, n);
    else if (n < 65536) out.push(0xda, n >> 8, n & 0xff);
    else out.push(0xdb, be(4, (v) => v.setUint32(0, n)));
    out.push(bytes);
  } else if (value instanceof Uint8Array) {
    const n = value.length;
    if (n < 256) out.push(0xc4, n);
    else if (n < 65536) out.push(0xc5, n >> 8, n & 0xff);
    else out.push(0xc6, be(4, (v) => v.setUint32(0, n)));
    out.push(value);
  } else if (Array.isArray(value)) {
    const n = value.length;
    if (n < 16) out.push(0x90 | n);
    else if (n < 65536) out.push(0xdc, n >> 8, n & 0xff);
    else out.push(0xdd, be(4, (v) => v.setUint32(0, n)));
    for (const item of value) write(item, out);
  } else if (typeof value === "object") {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    const n = keys.length;
    if (n < 16) out.push(0x80 | n);
    else out.push(0xde, n >> 8, n & 0xff);
    for (const key of keys) { write(key, out); write(value[key], out); }
  } else throw new TypeError(`cannot encode ${typeof value}`);
}

function writeNumber(value, out) {
  if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
    if (value >= 0 && value < 128) out.push(value);
    else if (value < 0 && value >= -32) out.push(value & 0xff);
    else out.push(0xd3, be(8, (v) => v.setBigInt64(0, BigInt(value))));
  } else out.push(0xcb, be(8, (v) => v.setFloat64(0, value)));
}

export function decode(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const str = (n) => { const s = textDecoder.decode(bytes.subarray(at, at + n)); at += n; return s; };
  const bin = (n) => { const b = bytes.slice(at, at + n); at += n; return b; };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(read()); return a; };
  const map = (n) => {
    const m = {};
    for (let i = 0; i < n; i++) { const k = read(); m[k] = read(); }
    return m;
  };
  function read() {
    if (at >= bytes.length) throw new RangeError("truncated msgpack");
    const b = bytes[at++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    let v;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: v = view.getUint8(at); at += 1; return bin(v);
      case 0xc5: v = view.getUint16(at); at += 2; return bin(v);
      case 0xc6: v = view.getUint32(at); at += 4; return bin(v);
      case 0xca: v = view.getFloat32(at); at += 4; return v;
      case 0xcb: v = view.getFloat64(at); at += 8; return v;
      case 0xcc: v = view.getUint8(at); at += 1; return v;
      case 0xcd: v = view.getUint16(at); at += 2; return v;
      case 0xce: v = view.getUint32(at); at += 4; return v;
      case 0xcf: v = Number(view.getBigUint64(at)); at += 8; return v;
      case 0xd0: v = view.getInt8(at); at += 1; return v;
      case 0xd1: v = view.getInt16(at); at += 2; return v;
      case 0xd2: v = view.getInt32(at); at += 4; return v;
      case 0xd3: v = Number(view.getBigInt64(at)); at += 8; return v;
      case 0xd9: v = view.getUint8(at); at += 1; return str(v);
      case 0xda: v = view.getUint16(at); at += 2; return str(v);
      case 0xdb: v = view.getUint32(at); at += 4; return str(v);
      case 0xdc: v = view.getUint16(at); at += 2; return arr(v);
      case 0xdd: v = view.getUint32(at); at += 4; return arr(v);
      case 0xde: v = view.getUint16(at); at += 2; return map(v);
      case 0xdf: v = view.getUint32(at); at += 4; return map(v);
      default: throw new RangeError(`unsupported msgpack byte 0x${b.toString(16)}`);
    }
  }
  return read();
}
