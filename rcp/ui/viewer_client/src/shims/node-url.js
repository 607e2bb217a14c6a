// Browser stand-in for Node's "url", needed only by an XML helper the viewer never calls
// (international domain names): the import must not fail when the bundle loads.
export function domainToASCII(domain) {
  return domain;
}
export function domainToUnicode(domain) {
  return domain;
}
export default { domainToASCII, domainToUnicode };
