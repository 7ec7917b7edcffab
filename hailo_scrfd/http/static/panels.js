// The result panels: faces table, aligned crops strip, timings and raw JSON. Text only, never HTML.
"use strict";

import { LANDMARKS } from "./overlay.js";

const $ = (id) => document.getElementById(id);

/** Indented JSON with arrays of numbers kept on one line ([x, y] points, boxes, matrix rows). */
export function prettyJson(value, replacer) {
  return JSON.stringify(value, replacer, 2)
    .replace(/\[\s+(-?[\d.eE+-]+(?:,\s+-?[\d.eE+-]+)*)\s+\]/g, (_, inner) => `[${inner.replace(/\s+/g, " ")}]`);
}

export function elideImages(key, value) {
  return key === "image" && typeof value === "string" && value.length > 80
    ? `${value.slice(0, 40)}… (${value.length} base64 characters; Copy JSON copies them all)` : value;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

const round1 = (v) => Math.round(v * 10) / 10;

export function renderFaces(faces) {
  const body = $("faces").tBodies[0];
  body.replaceChildren();
  faces.forEach((face, i) => {
    const row = document.createElement("tr");
    cell(row, String(i + 1));
    cell(row, face.score.toFixed(3));
    cell(row, face.bbox.map(round1).join(", "));
    const marks = cell(row, "");
    const list = document.createElement("ul");
    list.className = "marks";
    LANDMARKS.forEach((name, k) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch lm${k}`;
      item.append(swatch, `${name.replace("_", " ")}: ${face.landmarks[name].map(round1).join(", ")}`);
      list.append(item);
    });
    marks.append(list);
    cell(row, face.quality ? describeQuality(face.quality) : "—", "quality");
    body.append(row);
  });
}

/** A quality block of any shape, as plain text: "overall: 0.82; issues: blurry, small". */
function describeQuality(quality) {
  return Object.entries(quality).map(([key, value]) => {
    if (Array.isArray(value)) return `${key}: ${value.length ? value.join(", ") : "none"}`;
    if (value && typeof value === "object") {
      return `${key}: ${Object.entries(value).map(([k, v]) => `${k} ${typeof v === "number" ? round1(v) : v}`).join(", ")}`;
    }
    return `${key}: ${typeof value === "number" ? Math.round(value * 1000) / 1000 : value}`;
  }).join("; ");
}

export function renderCrops(faces) {
  const list = $("crops");
  list.replaceChildren();
  faces.forEach((face, i) => {
    if (!face.aligned) return;
    const item = document.createElement("li");
    const img = document.createElement("img");
    img.src = `data:image/${face.aligned.format};base64,${face.aligned.image}`;
    img.alt = `Face ${i + 1}, aligned`;
    img.width = img.height = Math.min(face.aligned.size, 112);
    const caption = document.createElement("span");
    caption.textContent = `${i + 1}`;
    item.append(img, caption);
    list.append(item);
  });
}

export function renderTimings(body, roundTripMs) {
  const list = $("timings");
  list.replaceChildren();
  const entries = Object.entries(body.timings_ms || {});
  if (roundTripMs) entries.push(["round trip (browser)", roundTripMs]);
  for (const [name, ms] of entries) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = `${ms.toFixed(1)} ms`;
    list.append(dt, dd);
  }
  $("meta").textContent = `model ${body.model}, backend ${body.backend ?? "none"}`;
}

