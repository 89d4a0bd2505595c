import type { Map as MapLibre } from 'maplibre-gl';

/**
 * The map's icons, drawn on a canvas when the map first asks for them (`styleimagemissing`), so that no
 * sprite or glyph file is needed: the page draws with no network at all. Band numbers are icons, not
 * text, for the same reason: text would need a glyph server.
 */

const RATIO = 2;

function canvas(w: number, h: number): CanvasRenderingContext2D {
  const c = document.createElement('canvas');
  c.width = w * RATIO;
  c.height = h * RATIO;
  const ctx = c.getContext('2d')!;
  ctx.scale(RATIO, RATIO);
  return ctx;
}

const image = (ctx: CanvasRenderingContext2D) => ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height);

/** `lvl-3`: the band number, dark on a white halo, legible on every band colour. */
function levelIcon(level: string): ImageData {
  const w = level.length > 1 ? 22 : 15;
  const ctx = canvas(w, 17);
  ctx.font = 'bold 12px system-ui, "Segoe UI", Roboto, Arial, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3.5;
  ctx.strokeStyle = 'rgba(255,255,255,0.95)';
  ctx.strokeText(level, w / 2, 9);
  ctx.fillStyle = '#111';
  ctx.fillText(level, w / 2, 9);
  return image(ctx);
}

/** `car-available`, `car-busy`, `car-offline`: a car seen from above in a round badge. */
function carIcon(state: string): ImageData {
  const ctx = canvas(26, 26);
  const fill = state === 'available' ? '#1a7f37' : state === 'busy' ? '#6e7781' : '#b0b7bf';
  ctx.beginPath();
  ctx.arc(13, 13, 12, 0, Math.PI * 2);
  ctx.fillStyle = '#fff';
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = fill;
  ctx.stroke();
  ctx.fillStyle = fill;
  ctx.beginPath();
  ctx.roundRect(8, 5, 10, 16, 3);
  ctx.fill();
  ctx.fillStyle = '#fff';
  ctx.fillRect(9.5, 8, 7, 3);
  ctx.fillRect(9.5, 16, 7, 2);
  if (state === 'available') {
    // A tick: availability does not rest on the green alone.
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    ctx.moveTo(10.5, 13.5);
    ctx.lineTo(12.5, 15);
    ctx.lineTo(15.5, 11.5);
    ctx.stroke();
  }
  return image(ctx);
}

export function installIcons(map: MapLibre): void {
  map.on('styleimagemissing', (e: { id: string }) => {
    const [kind, arg] = e.id.split('-', 2);
    if (!arg || map.hasImage(e.id)) return;
    const data = kind === 'lvl' ? levelIcon(arg) : kind === 'car' ? carIcon(arg) : undefined;
    if (data) map.addImage(e.id, data, { pixelRatio: RATIO });
  });
}
