/* The quickstart connector: decrypts a Fernet token with the key from
 * configuration.json and upserts the message into table `crypto`.
 *
 *   mallard debug          ->  tester.crypto: "If you can read this, you have the correct key"
 *
 * Fernet (https://github.com/fernet/spec): base64url of
 *   0x80 | 8-byte timestamp | 16-byte IV | AES-128-CBC ciphertext (PKCS7) | HMAC-SHA256 (32 bytes)
 * where the HMAC covers everything before it; the 32-byte key is the
 * signing key (16 bytes) followed by the encryption key (16 bytes).
 * OpenSSL's libcrypto does the cryptography (requirements.txt: libcrypto). */
#include <mallard.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static const char TOKEN[] =
    "gAAAAABl-3QGKUHpdUhBNpnW1_SnSkQGrAwev-uBBJaZo4NmtylIMg8UX6usuG4Z-h80OvfJajW6HU56O5hofapEIh4W33vuMpJgq0q3qMQx6R3Ol"
    "4qZ3Wc2DyIIapxbK5BrQHshBF95";

/* base64url (padding optional) into a malloc'd buffer; NULL when invalid. */
static unsigned char *b64url_decode(const char *in, size_t *out_len) {
  size_t n = strlen(in);
  while (n && in[n - 1] == '=') n--;
  if (n % 4 == 1) return NULL;
  size_t padded = (n + 3) / 4 * 4;
  char *std = malloc(padded + 1);
  unsigned char *out = malloc(padded / 4 * 3 + 1);
  if (!std || !out) {
    free(std);
    free(out);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
  for (size_t i = n; i < padded; i++) std[i] = '=';
  std[padded] = '\0';
  int len = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
  free(std);
  if (len < 0) {
    free(out);
    return NULL;
  }
  *out_len = (size_t)len - (padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
  return out;
}

/* Decrypts token with key into *plain (malloc'd, NUL-terminated); on failure
 * returns a reason for the user. */
static const char *fernet_decrypt(const char *token, const char *key_b64, char **plain) {
  *plain = NULL;
  size_t key_len = 0, tok_len = 0;
  unsigned char *key = b64url_decode(key_b64, &key_len);
  unsigned char *tok = b64url_decode(token, &tok_len);
  const char *why = NULL;
  if (!key || key_len != 32) why = "my_key is not a Fernet key (32 bytes in base64url)";
  else if (!tok || tok_len < 1 + 8 + 16 + 16 + 32 || (tok_len - 57) % 16 != 0) why = "the token is malformed";
  else if (tok[0] != 0x80) why = "the token has an unknown version";
  if (!why) {
    unsigned char mac[32];
    unsigned int mac_len = 0;
    size_t signed_len = tok_len - 32;
    if (!HMAC(EVP_sha256(), key, 16, tok, signed_len, mac, &mac_len) || mac_len != 32)
      why = "HMAC computation failed";
    else if (CRYPTO_memcmp(mac, tok + signed_len, 32) != 0) /* constant time */
      why = "wrong key: the token's HMAC does not match (check my_key in configuration.json)";
  }
  if (!why) {
    const unsigned char *iv = tok + 9, *ct = tok + 25;
    int ct_len = (int)(tok_len - 57), n = 0, fin = 0;
    unsigned char *out = malloc((size_t)ct_len + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!out || !c || EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key + 16, iv) != 1 ||
        EVP_DecryptUpdate(c, out, &n, ct, ct_len) != 1 || EVP_DecryptFinal_ex(c, out + n, &fin) != 1) {
      why = "the message does not decrypt (bad padding)";
      free(out);
    } else {
      out[n + fin] = '\0';
      *plain = (char *)out;
    }
    EVP_CIPHER_CTX_free(c);
  }
  free(key);
  free(tok);
  return why;
}

static int schema(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "crypto", "msg");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "crypto", "msg", MALLARD_STRING);
  return rc;
}

static int update(mallard_ctx *ctx) {
  const char *key;
  int rc = mallard_config_require(ctx, "my_key", &key);
  if (rc != MALLARD_OK) return rc;
  mallard_log(ctx, MALLARD_INFO, "decrypting the message");
  char *plain;
  const char *why = fernet_decrypt(TOKEN, key, &plain);
  if (why) return mallard_fail(ctx, "cannot decrypt the message: %s", why);
  mallard_log(ctx, MALLARD_FINE, "decrypted: %s", plain);

  mallard_record *r = mallard_record_new();
  if (!r) {
    free(plain);
    return mallard_fail(ctx, "out of memory");
  }
  mallard_set_string(r, "msg", plain);
  rc = mallard_upsert(ctx, "crypto", r);
  mallard_record_free(r);
  free(plain);
  if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
