import { METRICS, type Metric } from '@citytel/contract';

/** The page's two languages: the one the browser prefers, `?lang=`, or the toggle in the header. */
export type Lang = 'en' | 'fr';

const en = {
  title: 'citytel — air and noise map',
  tagline: 'Air and noise, measured by citizens',
  mapLabel: 'Map of air quality and noise. Use the arrow keys to move, + and − to zoom.',
  skip: 'Skip to the controls',
  skipInView: 'Skip to the list of what is on the map',
  settings: 'Settings',
  metric: 'Measure',
  window: 'Period',
  w1h: 'Last hour',
  w24h: '24 h',
  w7d: '7 days',
  replay: 'Replay the last 24 h',
  play: 'Play',
  pause: 'Pause',
  now: 'now',
  backToLive: 'Back to live',
  layers: 'Show',
  cells: 'Areas',
  kits: 'Sensor kits',
  cars: 'Shared cars',
  find: 'Find a kit',
  findPlaceholder: 'name or id',
  legend: 'Legend',
  eaqi: 'European Air Quality Index (EEA)',
  noise: 'Noise classes of EU noise maps',
  ramp: 'No health index for this measure: colours show the value',
  who: 'WHO guideline for road traffic: 53 dB(A) over the day (Lden), 45 dB(A) at night',
  whoShort: 'WHO',
  bandNumbers: 'The number on each area and kit is its band.',
  noValue: 'no value',
  live: 'Live',
  connecting: 'Connecting…',
  offline: 'Offline',
  replaying: 'Replay',
  updates_one: '{n} live update',
  updates_other: '{n} live updates',
  inView: 'In view',
  inViewHint: 'Kits and areas on the map now, with their values. Choose one to open it.',
  inViewKits_one: '{n} kit',
  inViewKits_other: '{n} kits',
  inViewCells_one: '{n} area',
  inViewCells_other: '{n} areas',
  inViewMore: 'Zoom in to list the rest.',
  cellLabel: 'Area {cell}',
  openData: 'Open data',
  exportView: 'Download what is on screen (CSV)',
  apiDocs: 'API documentation',
  fleetFeed: 'Shared cars feed (GBFS)',
  permalink: 'Link to this kit on the map',
  exportKit: 'This kit’s data (CSV)',
  quality: 'Quality',
  qualityOk: 'checked',
  measured: 'Measured',
  corrected: 'Corrected for humidity',
  chartKit: 'This kit',
  chartCity: 'City median',
  chartTable: 'The data as a table',
  time: 'Time',
  hour: 'Hour',
  day: 'Day',
  profile: 'Average day of {metric}',
  profileDays: 'over {n} days',
  profileSummary: '{metric} by hour of the day, mean over {days} days: lowest at {low}, highest at {high}',
  noiseDays: 'Daily noise levels',
  noiseSummary: 'Lden and Lnight per day; WHO marks 53 dB Lden and 45 dB Lnight',
  incomplete: 'incomplete day',
  whoLden: 'WHO Lden 53',
  whoLnight: 'WHO Lnight 45',
  close: 'Close',
  lastSeen: 'last seen {t}',
  neverSeen: 'never seen',
  mobile: 'mobile',
  indoor: 'indoor (position blurred)',
  latest: 'Latest values',
  noLatest: 'No reading in the last 24 h.',
  chart: '{metric} over {range}',
  range24h: 'the last 24 h',
  range7d: 'the last 7 days',
  chartSummary: '{metric}: {n} values, lowest {min}, highest {max}, last {last}',
  noData: 'No readings in this period.',
  loading: 'Loading…',
  track: 'Its recent track is drawn on the map, coloured by value.',
  mean: 'Mean',
  max: 'Highest',
  readings: 'Readings',
  devices: 'Kits',
  noCells: 'No readings here for this period.',
  dataError: 'Data temporarily unavailable; retrying.',
  noWebgl: 'This browser cannot draw the map (WebGL is off). The legend and kit list still work.',
  basemapOff: 'Background map unreachable: the data are shown on a plain background.',
  basemapOffCity: 'Street map unreachable: the city’s main roads are shown instead.',
  available: 'Available',
  inUse: 'In use',
  offlineCar: 'Not connected',
  station: 'Station',
  fuel: 'Fuel',
  battery: 'Battery',
  otherLang: 'Français',
  otherLangCode: 'fr',
  kind_sck: 'Smart Citizen kit',
  kind_airrohr: 'sensor.community kit',
  kind_native: 'citytel kit',
  kind_vehicle: 'Shared car with air sensor',
  dataCredit: 'Open data {license}',
};

type Strings = typeof en;

const fr: Strings = {
  title: 'citytel — carte de l’air et du bruit',
  tagline: 'L’air et le bruit, mesurés par les habitants',
  mapLabel: 'Carte de la qualité de l’air et du bruit. Flèches pour se déplacer, + et − pour zoomer.',
  skip: 'Aller aux réglages',
  skipInView: 'Aller à la liste de ce qui est sur la carte',
  settings: 'Réglages',
  metric: 'Mesure',
  window: 'Période',
  w1h: 'Dernière heure',
  w24h: '24 h',
  w7d: '7 jours',
  replay: 'Revoir les dernières 24 h',
  play: 'Lecture',
  pause: 'Pause',
  now: 'maintenant',
  backToLive: 'Revenir au direct',
  layers: 'Afficher',
  cells: 'Zones',
  kits: 'Capteurs',
  cars: 'Voitures partagées',
  find: 'Trouver un capteur',
  findPlaceholder: 'nom ou identifiant',
  legend: 'Légende',
  eaqi: 'Indice européen de la qualité de l’air (AEE)',
  noise: 'Classes de bruit des cartes de bruit européennes',
  ramp: 'Pas d’indice sanitaire pour cette mesure : les couleurs montrent la valeur',
  who: 'Recommandation de l’OMS pour le trafic routier : 53 dB(A) sur la journée (Lden), 45 dB(A) la nuit',
  whoShort: 'OMS',
  bandNumbers: 'Le chiffre sur chaque zone et chaque capteur est sa classe.',
  noValue: 'pas de valeur',
  live: 'En direct',
  connecting: 'Connexion…',
  offline: 'Hors ligne',
  replaying: 'Relecture',
  updates_one: '{n} mise à jour en direct',
  updates_other: '{n} mises à jour en direct',
  inView: 'À l’écran',
  inViewHint: 'Capteurs et zones visibles sur la carte, avec leurs valeurs. Choisissez-en un pour l’ouvrir.',
  inViewKits_one: '{n} capteur',
  inViewKits_other: '{n} capteurs',
  inViewCells_one: '{n} zone',
  inViewCells_other: '{n} zones',
  inViewMore: 'Zoomez pour voir les autres.',
  cellLabel: 'Zone {cell}',
  openData: 'Données ouvertes',
  exportView: 'Télécharger ce qui est à l’écran (CSV)',
  apiDocs: 'Documentation de l’API',
  fleetFeed: 'Flux des voitures partagées (GBFS)',
  permalink: 'Lien vers ce capteur sur la carte',
  exportKit: 'Les données de ce capteur (CSV)',
  quality: 'Qualité',
  qualityOk: 'vérifiée',
  measured: 'Mesurée',
  corrected: 'Corrigée de l’humidité',
  chartKit: 'Ce capteur',
  chartCity: 'Médiane de la ville',
  chartTable: 'Les données en tableau',
  time: 'Heure',
  hour: 'Heure',
  day: 'Jour',
  profile: 'Journée type : {metric}',
  profileDays: 'sur {n} jours',
  profileSummary:
    '{metric} par heure de la journée, moyenne sur {days} jours : minimum à {low}, maximum à {high}',
  noiseDays: 'Bruit par jour',
  noiseSummary: 'Lden et Lnight par jour ; repères de l’OMS : 53 dB Lden et 45 dB Lnight',
  incomplete: 'journée incomplète',
  whoLden: 'OMS Lden 53',
  whoLnight: 'OMS Lnight 45',
  close: 'Fermer',
  lastSeen: 'vu {t}',
  neverSeen: 'jamais vu',
  mobile: 'mobile',
  indoor: 'en intérieur (position floutée)',
  latest: 'Dernières valeurs',
  noLatest: 'Aucune mesure ces dernières 24 h.',
  chart: '{metric} sur {range}',
  range24h: 'les dernières 24 h',
  range7d: 'les 7 derniers jours',
  chartSummary: '{metric} : {n} valeurs, minimum {min}, maximum {max}, dernière {last}',
  noData: 'Aucune mesure sur cette période.',
  loading: 'Chargement…',
  track: 'Son trajet récent est tracé sur la carte, coloré selon la valeur.',
  mean: 'Moyenne',
  max: 'Maximum',
  readings: 'Mesures',
  devices: 'Capteurs',
  noCells: 'Aucune mesure ici sur cette période.',
  dataError: 'Données momentanément indisponibles ; nouvel essai en cours.',
  noWebgl:
    'Ce navigateur ne peut pas dessiner la carte (WebGL désactivé). La légende et la liste des capteurs restent utilisables.',
  basemapOff: 'Fond de carte injoignable : les données sont affichées sur un fond uni.',
  basemapOffCity: 'Plan des rues injoignable : les grands axes de la ville sont affichés à la place.',
  available: 'Disponible',
  inUse: 'En cours d’utilisation',
  offlineCar: 'Non connectée',
  station: 'Station',
  fuel: 'Carburant',
  battery: 'Batterie',
  otherLang: 'English',
  otherLangCode: 'en',
  kind_sck: 'Capteur Smart Citizen',
  kind_airrohr: 'Capteur sensor.community',
  kind_native: 'Capteur citytel',
  kind_vehicle: 'Voiture partagée avec capteur d’air',
  dataCredit: 'Données ouvertes {license}',
};

const STRINGS: Record<Lang, Strings> = { en, fr };

/** EAQI band names as the French ATMO index (2021), which follows the EEA bands, names them. */
const BAND_NAMES_FR: Record<string, string> = {
  good: 'Bon',
  fair: 'Moyen',
  moderate: 'Dégradé',
  poor: 'Mauvais',
  'very poor': 'Très mauvais',
  'extremely poor': 'Extrêmement mauvais',
};

/** Metric names are the contract's (METRICS[m].label); only the words among them are translated. */
const METRIC_NAMES_FR: Partial<Record<Metric, string>> = {
  noise_laeq: 'Bruit',
  temperature: 'Température',
  humidity: 'Humidité',
  pressure: 'Pression',
  light: 'Lumière',
  battery: 'Batterie',
};

export type Key = keyof Strings;

let lang: Lang = pickLang();

function pickLang(): Lang {
  const asked = new URLSearchParams(location.search).get('lang') ?? localStorage.getItem('citytel.lang');
  if (asked === 'en' || asked === 'fr') return asked;
  return navigator.languages?.some((l) => l.toLowerCase().startsWith('fr')) ? 'fr' : 'en';
}

export const currentLang = (): Lang => lang;

/** The browser's own variant of the page's language (en-GB writes 24-hour times, en-US does not). */
const locale = (): string => navigator.languages?.find((l) => l.toLowerCase().startsWith(lang)) ?? lang;

export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('citytel.lang', l);
}

/** The string of `key` in the current language, with `{name}` placeholders filled. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  return STRINGS[lang][key].replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

export function metricName(m: Metric): string {
  return (lang === 'fr' ? METRIC_NAMES_FR[m] : undefined) ?? METRICS[m].label;
}

/** A band's label for people: EAQI names translated and capitalised; noise classes in dB(A). */
export function bandName(label: string): string {
  if (lang === 'fr' && BAND_NAMES_FR[label]) return BAND_NAMES_FR[label];
  if (/^[a-z]/.test(label)) return label[0]!.toUpperCase() + label.slice(1);
  return `${label.replace('<', '< ').replace('≥', '≥ ')} dB(A)`;
}

/** Fills every `[data-i18n]` element's text and `[data-i18n-attr="attr:key,..."]` attributes. */
export function translateDom(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n]'))
    el.textContent = t(el.dataset.i18n as Key);
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n-attr]')) {
    for (const pair of (el.dataset.i18nAttr ?? '').split(',')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr, t(key as Key));
    }
  }
  document.documentElement.lang = lang;
  document.title = t('title');
}

const numberFormats = new Map<string, Intl.NumberFormat>();

/** A value as people read it: at most one decimal (two below 10 for CO), in the page's language. */
export function formatNumber(v: number, digits = 1): string {
  const key = `${lang}:${digits}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale(), { maximumFractionDigits: digits });
    numberFormats.set(key, f);
  }
  return f.format(v);
}

export function formatValue(m: Metric, v: number): string {
  return `${formatNumber(v, m === 'co' ? 2 : 1)} ${METRICS[m].unit}`;
}

let zone: string | undefined;

/** The city's time zone: every time the page writes is its local time, whatever the reader's own. */
export function setTimeZone(timeZone: string): void {
  zone = timeZone;
}
export const timeZone = (): string => zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatTime(ms: number, withDay = false): string {
  return new Intl.DateTimeFormat(locale(), {
    ...(withDay ? { weekday: 'short' } : {}),
    hour: '2-digit',
    minute: '2-digit',
    timeZone: zone,
  }).format(ms);
}

export const formatDay = (ms: number): string =>
  new Intl.DateTimeFormat(locale(), { weekday: 'short', day: 'numeric', timeZone: zone }).format(ms);

/** A calendar date (YYYY-MM-DD, a local day) as people read it. */
export const formatDate = (date: string): string =>
  new Intl.DateTimeFormat(locale(), {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    timeZone: 'UTC',
  }).format(Date.parse(`${date}T12:00:00Z`));

/**
 * The plural form of `base` for `n` (`base_one`, `base_other`, …) by the language's rules
 * (Intl.PluralRules: French says "0 capteur", English "0 kits"), with `{n}` written as a number.
 */
export function tn(base: string, n: number, vars: Record<string, string | number> = {}): string {
  const rule = new Intl.PluralRules(locale()).select(n);
  const strings = STRINGS[lang] as Record<string, string>;
  const key = (`${base}_${rule}` in strings ? `${base}_${rule}` : `${base}_other`) as Key;
  return t(key, { ...vars, n: formatNumber(n, 0) });
}

/** "2 min ago", "il y a 3 h". */
export function formatAgo(ms: number, now = Date.now()): string {
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto', style: 'short' });
  const s = Math.round((ms - now) / 1000);
  if (Math.abs(s) < 60) return rtf.format(s, 'second');
  if (Math.abs(s) < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (Math.abs(s) < 86_400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86_400), 'day');
}
