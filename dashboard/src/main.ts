import './style.css';
import { translateDom } from './i18n.ts';
import { renderLegend } from './legend.ts';
import { isMapMetric } from './scale.ts';

/**
 * The page's entry: its own stylesheet, its words and the legend at once, then the map and everything it
 * carries as a separate chunk (MapLibre is most of the page's weight), so the header, controls and legend
 * paint first and do not change when the map arrives.
 */
translateDom();
const metric = new URLSearchParams(location.search).get('metric');
renderLegend(isMapMetric(metric) ? metric : 'pm25');
// On a phone the legend starts folded (one tap opens it): the map needs the room.
if (matchMedia('(max-width: 640px)').matches) {
  (document.getElementById('legend') as HTMLDetailsElement | null)?.removeAttribute('open');
}
void import('./app.ts').then((app) => app.start());
