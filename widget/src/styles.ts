/** The box's stylesheet (`styles.css`, minified by the build), shared by every box on the page. */
import CSS from "./styles.css";

let sheet: CSSStyleSheet | null = null;

/** The shared stylesheet, built on first use. */
export function styleSheet(): CSSStyleSheet {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}
