// Drawing the faces on the photo's canvas: boxes, the five named landmarks and the scores.
"use strict";

export const LANDMARKS = ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"];
// Okabe-Ito colours, the same as hailo_scrfd.vision.draw, so the page and /v1/draw agree.
const LANDMARK_COLORS = ["rgb(0,114,178)", "rgb(213,94,0)", "rgb(240,228,66)", "rgb(0,158,115)", "rgb(204,121,167)"];
const BOX_COLOR = "rgb(86,180,233)";
const OUTLINE = "rgb(0,0,0)";

/** One face: its box, landmarks and score. Returns what was drawn, in canvas pixels and in image pixels. */
export function drawFace(ctx, face, index, sx, sy, dpr) {
  const [x, y, w, h] = face.bbox;
  const rect = [x * sx, y * sy, w * sx, h * sy];
  const side = Math.min(rect[2], rect[3]);
  const line = Math.max(1, Math.min(2 * dpr, side / 16));
  ctx.lineJoin = "miter";
  ctx.strokeStyle = OUTLINE;
  ctx.lineWidth = line + 2 * dpr;
  ctx.strokeRect(...rect);
  ctx.strokeStyle = BOX_COLOR;
  ctx.lineWidth = line;
  ctx.strokeRect(...rect);
  const radius = Math.max(0.75 * dpr, Math.min(side / 25, 3 * dpr));
  const points = LANDMARKS.map((name) => face.landmarks[name]);
  points.forEach(([px, py], k) => {
    ctx.beginPath();
    ctx.arc(px * sx, py * sy, radius + Math.max(0.5 * dpr, radius / 3), 0, 2 * Math.PI);
    ctx.fillStyle = OUTLINE;
    ctx.fill();
    ctx.beginPath();
    ctx.arc(px * sx, py * sy, radius, 0, 2 * Math.PI);
    ctx.fillStyle = LANDMARK_COLORS[k];
    ctx.fill();
  });
  drawLabel(ctx, `${index + 1}: ${face.score.toFixed(2)}`, rect, dpr);
  return {
    index: index + 1, score: face.score,
    canvas_box: rect, image_box: [rect[0] / sx, rect[1] / sy, rect[2] / sx, rect[3] / sy],
    canvas_landmarks: points.map(([px, py]) => [px * sx, py * sy]),
  };
}

function drawLabel(ctx, text, [x, y, w], dpr) {
  const size = Math.round(Math.max(10 * dpr, Math.min(14 * dpr, w / 3)));
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  const pad = Math.round(size * 0.25);
  const width = ctx.measureText(text).width + 2 * pad, height = size + 2 * pad;
  let top = y - height - dpr * 2;
  if (top < 0) top = y + dpr * 2;
  const left = Math.min(Math.max(0, x), ctx.canvas.width - width);
  ctx.fillStyle = "rgba(0,0,0,0.8)";
  ctx.fillRect(left, top, width, height);
  ctx.fillStyle = "rgb(255,255,255)";
  ctx.textBaseline = "top";
  ctx.fillText(text, left + pad, top + pad + 1);
}

