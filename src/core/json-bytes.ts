declare const jsonBytesBrand: unique symbol;

/**
 * The UTF-8 bytes of a value's JSON text, exactly as `JSON.stringify` writes it, of a value that
 * JSON keeps as it is (`JSON.parse` of the text gives back an equal value). Only encoders that are
 * tested to agree with `JSON.stringify` make one; a store may log it instead of serialising the
 * value again.
 */
export type JsonBytes = Buffer & { readonly [jsonBytesBrand]: true };
