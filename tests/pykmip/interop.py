"""Drives PyKMIP's ProxyKmipClient against a Clavis node and prints what it saw as JSON.

Usage: interop.py HOST PORT CERT KEY CA KMIP_VERSION (1.2 | 1.4 | 2.0)

The Rust test (tests/kmip_pykmip.rs) asserts on the printed results; this script only
reports, so a failure shows up as a wrong value, not a traceback hidden in a log.
"""
import json
import sys

from kmip import enums
from kmip.pie import client as pie_client
from kmip.pie import objects


def main():
    host, port, cert, key, ca, version = sys.argv[1:7]
    kmip_version = {
        "1.2": enums.KMIPVersion.KMIP_1_2,
        "1.4": enums.KMIPVersion.KMIP_1_4,
        "2.0": enums.KMIPVersion.KMIP_2_0,
    }[version]
    out = {}
    c = pie_client.ProxyKmipClient(
        hostname=host,
        port=int(port),
        cert=cert,
        key=key,
        ca=ca,
        kmip_version=kmip_version,
    )
    with c:
        # Create an AES-256 key with a name and usage mask.
        uid = c.create(
            enums.CryptographicAlgorithm.AES,
            256,
            name="pykmip-key-" + version,
            cryptographic_usage_mask=[
                enums.CryptographicUsageMask.ENCRYPT,
                enums.CryptographicUsageMask.DECRYPT,
            ],
        )
        out["created"] = uid
        key_obj = c.get(uid)
        out["get_type"] = type(key_obj).__name__
        out["get_algorithm"] = key_obj.cryptographic_algorithm.name
        out["get_length"] = key_obj.cryptographic_length
        out["get_value_len"] = len(key_obj.value)
        out["get_value_hex"] = bytes(key_obj.value).hex()
        out["get_names"] = list(key_obj.names)

        attrs = c.get_attributes(uid, ["State", "Cryptographic Algorithm", "Cryptographic Length", "Name"])
        out["attributes_uid"] = attrs[0]
        got = {}
        for a in attrs[1]:
            name = a.attribute_name.value
            value = a.attribute_value
            if name == "State":
                got[name] = value.value.name
            elif name == "Cryptographic Algorithm":
                got[name] = value.value.name
            elif name == "Cryptographic Length":
                got[name] = value.value
            elif name == "Name":
                got[name] = value.name_value.value
        out["attributes"] = got
        out["attribute_list"] = sorted(c.get_attribute_list(uid))

        # Register a known key, read it back.
        secret = bytes(range(32))
        reg = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, secret, name="pykmip-registered-" + version)
        reg_uid = c.register(reg)
        out["registered"] = reg_uid
        out["registered_roundtrip"] = bytes(c.get(reg_uid).value) == secret

        # Secret data.
        sd = objects.SecretData(b"hunter2-" + version.encode(), enums.SecretDataType.PASSWORD, name="pykmip-secret")
        sd_uid = c.register(sd)
        out["secret_roundtrip"] = bytes(c.get(sd_uid).value) == b"hunter2-" + version.encode()

        # Locate by name.
        out["located_by_name"] = c.locate(attributes=[
            c.attribute_factory.create_attribute(enums.AttributeType.NAME, "pykmip-key-" + version)
        ])

        # Lifecycle.
        c.activate(uid)
        out["state_after_activate"] = c.get_attributes(uid, ["State"])[1][0].attribute_value.value.name
        try:
            c.destroy(uid)
            out["destroy_active"] = "allowed"
        except Exception as e:  # the server must refuse
            out["destroy_active"] = "refused: " + type(e).__name__ + ": " + str(e)[:200]
        c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
        out["state_after_revoke"] = c.get_attributes(uid, ["State"])[1][0].attribute_value.value.name
        c.destroy(uid)
        try:
            c.get(uid)
            out["get_destroyed"] = "allowed"
        except Exception as e:
            out["get_destroyed"] = "refused: " + str(e)[:200]
        try:
            c.get("01900000-0000-7000-8000-000000000000")
            out["get_unknown"] = "allowed"
        except Exception as e:
            out["get_unknown"] = "refused: " + str(e)[:200]
        # Key pairs, and cryptography with keys that stay in Clavis.
        pub_uid, priv_uid = c.create_key_pair(enums.CryptographicAlgorithm.RSA, 2048)
        out["keypair_private_type"] = type(c.get(priv_uid)).__name__
        out["keypair_public_type"] = type(c.get(pub_uid)).__name__
        c.activate(priv_uid)
        c.activate(pub_uid)
        sig_params = {
            "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
            "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
            "padding_method": enums.PaddingMethod.PKCS1v15,
        }
        signature = c.sign(b"tape label XXA012", uid=priv_uid, cryptographic_parameters=sig_params)
        out["signature_len"] = len(signature)
        out["verify_good"] = c.signature_verify(b"tape label XXA012", signature, uid=pub_uid, cryptographic_parameters=sig_params).name
        out["verify_bad"] = c.signature_verify(b"tape label XXA013", signature, uid=pub_uid, cryptographic_parameters=sig_params).name

        enc_uid = c.create(enums.CryptographicAlgorithm.AES, 256, cryptographic_usage_mask=[
            enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT])
        c.activate(enc_uid)
        cbc = {
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
            "block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5,
        }
        ct, iv = c.encrypt(b"backup set 2026-11-23", uid=enc_uid, cryptographic_parameters=cbc)
        out["cbc_ciphertext_len"] = len(ct)
        new_uid = c.rekey(uid=enc_uid)
        out["rekey_new"] = new_uid != enc_uid and len(bytes(c.get(new_uid).value)) == 32
        out["cbc_roundtrip"] = c.decrypt(ct, uid=enc_uid, cryptographic_parameters=cbc, iv_counter_nonce=iv) == b"backup set 2026-11-23"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
