/** The pull's and the webhooks' rule for a CRM's email: something@something.tld, no spaces. */
export const isEmail = (s: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
