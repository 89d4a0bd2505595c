import './style.css';

/**
 * The page's entry: its own stylesheet at once, then the map and everything it carries as a separate
 * chunk (MapLibre is most of the page's weight), so the header, controls and legend paint first.
 */
void import('./app.ts').then((app) => app.start());
