/** CSS files are imported as their minified text (see build.mjs). */
declare module "*.css" {
  const text: string;
  export default text;
}
