// The hailo-scrfd web page: pick a photo, send it to /v1/detect or /v1/align on this server, draw the answer.
// Everything the API says is put on the page with textContent, never as HTML.
"use strict";

import { drawFace } from "./overlay.js";
import { elideImages, prettyJson, renderCrops, renderFaces, renderTimings } from "./panels.js";

const KEY_STORAGE = "hailo-scrfd.api-key";
const NUMBER_FIELDS = ["threshold", "max-faces", "min-face-size"];
// The option selects, offered only when the server declares the option; what the help says when it does not.
const SELECTS = {
  mode: "This server has one mode; it does not take the mode option.",
  rotations: "This server looks for upright faces only; it does not take the rotations option.",
};

const $ = (id) => document.getElementById(id);
const state = { source: null, name: "", bitmap: null, result: null, supported: new Set(), busy: false, seq: 0 };

// ---- the API ---------------------------------------------------------------------------------------------

/** fetch() to this page's own origin only; the API key is attached only there. */
export async function apiFetch(path, init = {}) {
  const url = new URL(path, window.location.origin);
  if (url.origin !== window.location.origin) throw new Error(`refusing to call another origin: ${url.origin}`);
  const headers = new Headers(init.headers || {});
  const key = $("api-key").value.trim();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  return fetch(url, { ...init, headers, credentials: "same-origin", cache: "no-store", redirect: "error" });
}

/** Which optional request parameters this server declares (e.g. mode, quality), from its OpenAPI document. */
async function detectSupport() {
  try {
    const response = await apiFetch("/openapi.json");
    if (!response.ok) return;
    const spec = await response.json();
    for (const path of ["/v1/detect", "/v1/align"]) {
      const op = spec.paths?.[path]?.post;
      for (const p of op?.parameters || []) state.supported.add(p.name);
      for (const media of Object.values(op?.requestBody?.content || {})) {
        for (const name of Object.keys(media.schema?.properties || {})) state.supported.add(name);
      }
    }
  } catch (err) {
    console.warn("could not read /openapi.json", err);
  }
}

function applySupport() {
  for (const [id, unsupported] of Object.entries(SELECTS)) {
    if (state.supported.has(id)) continue;
    $(id).disabled = true;
    $(`${id}-help`).textContent = unsupported;
  }
  $("quality-field").hidden = !state.supported.has("quality");
}

/** The request body: the photo and only the options the user set (blank fields use the server's defaults). */
function buildForm(align) {
  const form = new FormData();
  form.append("image", state.source, state.name || "photo");
  for (const id of NUMBER_FIELDS) {
    const input = $(id);
    if (input.value.trim() !== "") form.append(input.name, input.value.trim());
  }
  for (const id of Object.keys(SELECTS)) {
    const select = $(id);
    if (!select.disabled && select.value) form.append(select.name, select.value);
  }
  if (!$("quality-field").hidden && $("quality").checked) form.append("quality", "true");
  if (align) {
    if ($("align-size").value.trim() !== "") form.append("size", $("align-size").value.trim());
    if ($("align-format").value) form.append("format", $("align-format").value);
  }
  return form;
}

async function run() {
  if (!state.source) return;
  const seq = ++state.seq;
  const align = $("align").checked;
  setBusy(true, `Detecting faces in ${state.name || "the photo"}…`);
  showError(null);
  const started = performance.now();
  let response, body;
  try {
    response = await apiFetch(align ? "/v1/align" : "/v1/detect", { method: "POST", body: buildForm(align) });
    const text = await response.text();
    try { body = JSON.parse(text); } catch { body = null; }
    if (seq !== state.seq) return;  // a newer request has started
    if (!response.ok) {
      const err = body?.error;
      showError(err?.message || text.slice(0, 300) || response.statusText, err?.code || "", response.status);
      if (response.status === 401) { $("key-box").open = true; $("api-key").focus(); }
      state.result = null;
      renderResult(null);
      return;
    }
  } catch (err) {
    if (seq !== state.seq) return;
    showError(`Could not reach the service: ${err.message}`, "network", 0);
    return;
  } finally {
    if (seq === state.seq && !response?.ok) setBusy(false);
  }
  state.result = body;
  state.roundTripMs = performance.now() - started;
  renderResult(body);
  setBusy(false);
}

// ---- choosing a photo -------------------------------------------------------------------------------------

async function usePhoto(blob, name) {
  state.source = blob;
  state.name = name;
  state.bitmap = null;
  $("file-name").textContent = name;
  $("run").disabled = false;
  try {
    // Upright as the EXIF orientation says, which is the frame the API's coordinates use.
    state.bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
  } catch {
    state.bitmap = null;  // not an image the browser can show (or not an image at all): the API will say
  }
  await run();
  // In the one-column layout (narrow window, high zoom) the answer is below the controls: bring it into view.
  const results = $("results");
  if (results.getBoundingClientRect().top > window.innerHeight * 0.6) results.scrollIntoView({ block: "start" });
}

function firstImage(items) {
  for (const item of items || []) {
    const file = item instanceof File ? item : item.kind === "file" ? item.getAsFile() : null;
    if (file) return file;
  }
  return null;
}

function wireInputs() {
  const drop = $("drop");
  const picker = $("file");
  drop.addEventListener("click", () => picker.click());
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); picker.click(); }
  });
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    if (file) usePhoto(file, file.name);
    picker.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = firstImage(event.dataTransfer?.files);
    if (file) usePhoto(file, file.name);
  });
  // Stop a photo dropped outside the zone from replacing the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  document.addEventListener("paste", (event) => {
    const file = firstImage(event.clipboardData?.items);
    if (file) { event.preventDefault(); usePhoto(file, file.name || "pasted image"); }
  });
  $("options").addEventListener("submit", (event) => { event.preventDefault(); run(); });
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY_STORAGE) || "";
  if (key.value) $("key-box").open = true;
  key.addEventListener("input", () => {
    if (key.value) sessionStorage.setItem(KEY_STORAGE, key.value); else sessionStorage.removeItem(KEY_STORAGE);
  });
  $("copy-raw").addEventListener("click", copyRaw);
  wireCamera();
}

function wireCamera() {
  const video = $("video"), start = $("camera-start"), snap = $("camera-snap"), stop = $("camera-stop");
  if (!navigator.mediaDevices?.getUserMedia) {
    start.disabled = true;
    start.title = "The camera needs a secure page (https or localhost) and a browser that allows it.";
    return;
  }
  let stream = null;
  const close = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = snap.hidden = stop.hidden = true;
    start.hidden = false;
  };
  start.addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 } }, audio: false });
    } catch (err) {
      showError(`The camera is not available: ${err.message || err.name}`, "camera", 0);
      return;
    }
    video.srcObject = stream;
    video.hidden = snap.hidden = stop.hidden = false;
    start.hidden = true;
    await video.play();
    snap.focus();
  });
  snap.addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => blob && usePhoto(blob, `camera-${new Date().toISOString()}.jpg`), "image/jpeg", 0.92);
  });
  stop.addEventListener("click", () => { close(); start.focus(); });
}

// ---- showing the answer -----------------------------------------------------------------------------------

/** While a request runs, body[data-state] is "busy"; when it ends, "done" or "error", and data-finished = its number. */
function setBusy(busy, message) {
  state.busy = busy;
  if (busy) document.body.dataset.state = "busy";
  else document.body.dataset.finished = String(state.seq);
  $("run").disabled = busy || !state.source;
  $("results").setAttribute("aria-busy", String(busy));
  if (message) $("status").textContent = message;
}

function showError(message, code = "", status = 0) {
  const box = $("error");
  if (message === null) { box.hidden = true; return; }
  $("error-message").textContent = message;
  $("error-code").textContent = code || "none";
  $("error-status").textContent = status ? `(HTTP ${status})` : "";
  box.hidden = false;
  document.body.dataset.state = "error";
  $("status").textContent = "The request failed.";
}

function renderResult(body) {
  const sections = ["crops-box", "faces-box", "timings-box", "raw-box"];
  if (!body) {
    for (const id of sections) $(id).hidden = true;
    drawOverlay(null);
    return;
  }
  document.body.dataset.state = "done";
  const n = body.count ?? body.faces.length;
  $("status").textContent = `${n} face${n === 1 ? "" : "s"} found in ${body.image.width} × ${body.image.height} px.`;
  drawOverlay(body);
  renderCrops(body.faces);
  renderFaces(body.faces);
  renderTimings(body, state.roundTripMs);
  $("raw").textContent = prettyJson(body, elideImages);
  for (const id of sections) $(id).hidden = false;
  $("crops-box").hidden = !body.faces.some((f) => f.aligned);
}

/** Draw the photo and the faces on one canvas, sized in device pixels for a sharp picture on HiDPI screens. */
function drawOverlay(body) {
  const canvas = $("view"), stage = $("stage"), notice = $("notice"), data = $("overlay-data");
  const bitmap = state.bitmap;
  notice.hidden = true;
  if (!bitmap) {
    stage.hidden = true;
    data.textContent = "";
    delete data.dataset.ready;
    if (body) {
      notice.textContent = "This browser cannot display this image format; the faces are listed below.";
      notice.hidden = false;
    }
    return;
  }
  stage.hidden = false;
  const dpr = window.devicePixelRatio || 1;
  const cssWidth = Math.min(stage.clientWidth || bitmap.width, bitmap.width / dpr * 4, 4096 / dpr);
  const cssHeight = cssWidth * bitmap.height / bitmap.width;
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.max(1, Math.round(cssWidth * dpr));
  canvas.height = Math.max(1, Math.round(cssHeight * dpr));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  if (!body) { data.textContent = ""; return; }
  // Coordinates are in the upright photo's pixels; if the browser's picture differs in size, scale per axis.
  const sx = canvas.width / body.image.width, sy = canvas.height / body.image.height;
  if (bitmap.width !== body.image.width || bitmap.height !== body.image.height) {
    notice.textContent = `The browser shows this photo at ${bitmap.width} × ${bitmap.height} px, the service saw `
      + `${body.image.width} × ${body.image.height} px; the boxes are scaled to fit.`;
    notice.hidden = false;
  }
  const drawn = body.faces.map((face, i) => drawFace(ctx, face, i, sx, sy, dpr));
  canvas.setAttribute("aria-label", `The photo with ${drawn.length} detected face${drawn.length === 1 ? "" : "s"} outlined`);
  data.textContent = JSON.stringify({
    image: body.image, canvas: { width: canvas.width, height: canvas.height }, scale: [sx, sy], dpr,
    faces: drawn,
  });
  data.dataset.ready = String(state.seq);
}

async function copyRaw() {
  const text = prettyJson(state.result);
  const status = $("copy-status");
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch {
    // No clipboard API (plain http on a LAN address): select the text for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents($("raw"));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    status.textContent = "Selected: press Ctrl+C to copy (images shortened).";
  }
}

// Redraw at the new size when the layout changes (window resize, zoom).
let resizeTimer = 0;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.bitmap) drawOverlay(state.result); }, 100);
}).observe($("stage"));

wireInputs();
await detectSupport();
applySupport();
document.body.dataset.state = "ready";
