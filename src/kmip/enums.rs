//! KMIP enumeration values, from the enumeration tables of the KMIP 1.0–2.1
//! specifications. One module of constants per enumeration, and a name table used by
//! the XML test-case runner and by diagnostics.
#![allow(missing_docs)]

pub mod adjustment_type {
    pub const INCREMENT: u32 = 0x00000001;
    pub const DECREMENT: u32 = 0x00000002;
    pub const NEGATE: u32 = 0x00000003;
}

pub mod alternative_name_type {
    pub const UNINTERPRETED_TEXT_STRING: u32 = 0x00000001;
    pub const URI: u32 = 0x00000002;
    pub const OBJECT_SERIAL_NUMBER: u32 = 0x00000003;
    pub const EMAIL_ADDRESS: u32 = 0x00000004;
    pub const DNS_NAME: u32 = 0x00000005;
    pub const X500_DISTINGUISHED_NAME: u32 = 0x00000006;
    pub const IP_ADDRESS: u32 = 0x00000007;
}

pub mod asynchronous_indicator {
    pub const MANDATORY: u32 = 0x00000001;
    pub const OPTIONAL: u32 = 0x00000002;
    pub const PROHIBITED: u32 = 0x00000003;
}

pub mod attestation_type {
    pub const TPM_QUOTE: u32 = 0x00000001;
    pub const TCG_INTEGRITY_REPORT: u32 = 0x00000002;
    pub const SAML_ASSERTION: u32 = 0x00000003;
}

pub mod authentication_suite {
    pub const BASIC: u32 = 0x00000001;
    pub const TLS12: u32 = 0x00000002;
}

pub mod batch_error_continuation_option {
    pub const CONTINUE: u32 = 0x00000001;
    pub const STOP: u32 = 0x00000002;
    pub const UNDO: u32 = 0x00000003;
}

pub mod block_cipher_mode {
    pub const CBC: u32 = 0x00000001;
    pub const ECB: u32 = 0x00000002;
    pub const PCBC: u32 = 0x00000003;
    pub const CFB: u32 = 0x00000004;
    pub const OFB: u32 = 0x00000005;
    pub const CTR: u32 = 0x00000006;
    pub const CMAC: u32 = 0x00000007;
    pub const CCM: u32 = 0x00000008;
    pub const GCM: u32 = 0x00000009;
    pub const CBC_MAC: u32 = 0x0000000A;
    pub const XTS: u32 = 0x0000000B;
    pub const AES_KEY_WRAP_PADDING: u32 = 0x0000000C;
    pub const NIST_KEY_WRAP: u32 = 0x0000000D;
    pub const X9_102_AESKW: u32 = 0x0000000E;
    pub const X9_102_TDKW: u32 = 0x0000000F;
    pub const X9_102_AKW1: u32 = 0x00000010;
    pub const X9_102_AKW2: u32 = 0x00000011;
    pub const AEAD: u32 = 0x00000012;
}

pub mod cancellation_result {
    pub const CANCELED: u32 = 0x00000001;
    pub const UNABLE_TO_CANCEL: u32 = 0x00000002;
    pub const COMPLETED: u32 = 0x00000003;
    pub const FAILED: u32 = 0x00000004;
    pub const UNAVAILABLE: u32 = 0x00000005;
}

pub mod certificate_request_type {
    pub const CRMF: u32 = 0x00000001;
    pub const PKCS10: u32 = 0x00000002;
    pub const PEM: u32 = 0x00000003;
    pub const PGP: u32 = 0x00000004;
}

pub mod certificate_type {
    pub const X_509: u32 = 0x00000001;
    pub const PGP: u32 = 0x00000002;
}

pub mod client_registration_method {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const SERVER_PREGENERATED: u32 = 0x00000002;
    pub const SERVER_ON_DEMAND: u32 = 0x00000003;
    pub const CLIENT_GENERATED: u32 = 0x00000004;
    pub const CLIENT_REGISTERED: u32 = 0x00000005;
}

pub mod conformance_clause {
    pub const DISCOVER_VERSIONS: u32 = 0x00000001;
    pub const BASELINE: u32 = 0x00000002;
    pub const SECRET_DATA: u32 = 0x00000003;
    pub const SYMMETRIC_KEY_STORE: u32 = 0x00000004;
    pub const SYMMETRIC_KEY_FOUNDRY: u32 = 0x00000005;
    pub const ASYMMETRIC_KEY_STORE: u32 = 0x00000006;
    pub const ASYMMETRIC_KEY_AND_CERTIFICATE_STORE: u32 = 0x00000007;
    pub const ASYMMETRIC_KEY_FOUNDRY: u32 = 0x00000008;
    pub const CERTIFICATE: u32 = 0x00000009;
    pub const ASYMMETRIC_KEY_FOUNDRY_AND_CERTIFICATE: u32 = 0x0000000A;
    pub const STORAGE: u32 = 0x0000000B;
}

pub mod credential_type {
    pub const USERNAME_AND_PASSWORD: u32 = 0x00000001;
    pub const DEVICE: u32 = 0x00000002;
    pub const ATTESTATION: u32 = 0x00000003;
    pub const ONE_TIME_PASSWORD: u32 = 0x00000004;
    pub const HASHED_PASSWORD: u32 = 0x00000005;
    pub const TICKET: u32 = 0x00000006;
}

pub mod cryptographic_algorithm {
    pub const DES: u32 = 0x00000001;
    pub const TRIPLE_DES: u32 = 0x00000002;
    pub const AES: u32 = 0x00000003;
    pub const RSA: u32 = 0x00000004;
    pub const DSA: u32 = 0x00000005;
    pub const ECDSA: u32 = 0x00000006;
    pub const HMAC_SHA1: u32 = 0x00000007;
    pub const HMAC_SHA224: u32 = 0x00000008;
    pub const HMAC_SHA256: u32 = 0x00000009;
    pub const HMAC_SHA384: u32 = 0x0000000A;
    pub const HMAC_SHA512: u32 = 0x0000000B;
    pub const HMAC_MD5: u32 = 0x0000000C;
    pub const DH: u32 = 0x0000000D;
    pub const ECDH: u32 = 0x0000000E;
    pub const ECMQV: u32 = 0x0000000F;
    pub const BLOWFISH: u32 = 0x00000010;
    pub const CAMELLIA: u32 = 0x00000011;
    pub const CAST5: u32 = 0x00000012;
    pub const IDEA: u32 = 0x00000013;
    pub const MARS: u32 = 0x00000014;
    pub const RC2: u32 = 0x00000015;
    pub const RC4: u32 = 0x00000016;
    pub const RC5: u32 = 0x00000017;
    pub const SKIPJACK: u32 = 0x00000018;
    pub const TWOFISH: u32 = 0x00000019;
    pub const EC: u32 = 0x0000001A;
    pub const ONE_TIME_PAD: u32 = 0x0000001B;
    pub const CHACHA20: u32 = 0x0000001C;
    pub const POLY1305: u32 = 0x0000001D;
    pub const CHACHA20_POLY1305: u32 = 0x0000001E;
    pub const SHA3_224: u32 = 0x0000001F;
    pub const SHA3_256: u32 = 0x00000020;
    pub const SHA3_384: u32 = 0x00000021;
    pub const SHA3_512: u32 = 0x00000022;
    pub const HMAC_SHA3_224: u32 = 0x00000023;
    pub const HMAC_SHA3_256: u32 = 0x00000024;
    pub const HMAC_SHA3_384: u32 = 0x00000025;
    pub const HMAC_SHA3_512: u32 = 0x00000026;
    pub const SHAKE_128: u32 = 0x00000027;
    pub const SHAKE_256: u32 = 0x00000028;
    pub const ARIA: u32 = 0x00000029;
    pub const SEED: u32 = 0x0000002A;
    pub const SM2: u32 = 0x0000002B;
    pub const SM3: u32 = 0x0000002C;
    pub const SM4: u32 = 0x0000002D;
    pub const GOST_R_34_10_2012: u32 = 0x0000002E;
    pub const GOST_R_34_11_2012: u32 = 0x0000002F;
    pub const GOST_R_34_13_2015: u32 = 0x00000030;
    pub const GOST_28147_89: u32 = 0x00000031;
    pub const XMSS: u32 = 0x00000032;
    pub const SPHINCS_256: u32 = 0x00000033;
    pub const MCELIECE: u32 = 0x00000034;
    pub const MCELIECE_6960119: u32 = 0x00000035;
    pub const MCELIECE_8192128: u32 = 0x00000036;
    pub const ED25519: u32 = 0x00000037;
    pub const ED448: u32 = 0x00000038;
}

pub mod cryptographic_usage_mask {
    pub const SIGN: u32 = 0x00000001;
    pub const VERIFY: u32 = 0x00000002;
    pub const ENCRYPT: u32 = 0x00000004;
    pub const DECRYPT: u32 = 0x00000008;
    pub const WRAP_KEY: u32 = 0x00000010;
    pub const UNWRAP_KEY: u32 = 0x00000020;
    pub const EXPORT: u32 = 0x00000040;
    pub const MAC_GENERATE: u32 = 0x00000080;
    pub const MAC_VERIFY: u32 = 0x00000100;
    pub const DERIVE_KEY: u32 = 0x00000200;
    pub const CONTENT_COMMITMENT: u32 = 0x00000400;
    pub const KEY_AGREEMENT: u32 = 0x00000800;
    pub const CERTIFICATE_SIGN: u32 = 0x00001000;
    pub const CRL_SIGN: u32 = 0x00002000;
    pub const GENERATE_CRYPTOGRAM: u32 = 0x00004000;
    pub const VALIDATE_CRYPTOGRAM: u32 = 0x00008000;
    pub const TRANSLATE_ENCRYPT: u32 = 0x00010000;
    pub const TRANSLATE_DECRYPT: u32 = 0x00020000;
    pub const TRANSLATE_WRAP: u32 = 0x00040000;
    pub const TRANSLATE_UNWRAP: u32 = 0x00080000;
    pub const AUTHENTICATE: u32 = 0x00100000;
    pub const UNRESTRICTED: u32 = 0x00200000;
    pub const FPE_ENCRYPT: u32 = 0x00400000;
    pub const FPE_DECRYPT: u32 = 0x00800000;
}

pub mod data {
    pub const DECRYPT: u32 = 0x00000001;
    pub const ENCRYPT: u32 = 0x00000002;
    pub const HASH: u32 = 0x00000003;
    pub const MAC_MAC_DATA: u32 = 0x00000004;
    pub const RNG_RETRIEVE: u32 = 0x00000005;
    pub const SIGN_SIGNATURE_DATA: u32 = 0x00000006;
    pub const SIGNATURE_VERIFY: u32 = 0x00000007;
}

pub mod derivation_method {
    pub const PBKDF2: u32 = 0x00000001;
    pub const HASH: u32 = 0x00000002;
    pub const HMAC: u32 = 0x00000003;
    pub const ENCRYPT: u32 = 0x00000004;
    pub const NIST800_108_C: u32 = 0x00000005;
    pub const NIST800_108_F: u32 = 0x00000006;
    pub const NIST800_108_DPI: u32 = 0x00000007;
    pub const ASYMMETRIC_KEY: u32 = 0x00000008;
    pub const AWS_SIGNATURE_VERSION_4: u32 = 0x00000009;
    pub const HKDF: u32 = 0x0000000A;
}

pub mod destroy_action {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const KEY_MATERIAL_DELETED: u32 = 0x00000002;
    pub const KEY_MATERIAL_SHREDDED: u32 = 0x00000003;
    pub const METADATA_DELETED: u32 = 0x00000004;
    pub const METADATA_SHREDDED: u32 = 0x00000005;
    pub const DELETED: u32 = 0x00000006;
    pub const SHREDDED: u32 = 0x00000007;
}

pub mod digital_signature_algorithm {
    pub const MD2_WITH_RSA_ENCRYPTION: u32 = 0x00000001;
    pub const MD5_WITH_RSA_ENCRYPTION: u32 = 0x00000002;
    pub const SHA1_WITH_RSA_ENCRYPTION: u32 = 0x00000003;
    pub const SHA224_WITH_RSA_ENCRYPTION: u32 = 0x00000004;
    pub const SHA256_WITH_RSA_ENCRYPTION: u32 = 0x00000005;
    pub const SHA384_WITH_RSA_ENCRYPTION: u32 = 0x00000006;
    pub const SHA512_WITH_RSA_ENCRYPTION: u32 = 0x00000007;
    pub const RSASSA_PSS: u32 = 0x00000008;
    pub const DSA_WITH_SHA1: u32 = 0x00000009;
    pub const DSA_WITH_SHA224: u32 = 0x0000000A;
    pub const DSA_WITH_SHA256: u32 = 0x0000000B;
    pub const ECDSA_WITH_SHA1: u32 = 0x0000000C;
    pub const ECDSA_WITH_SHA224: u32 = 0x0000000D;
    pub const ECDSA_WITH_SHA256: u32 = 0x0000000E;
    pub const ECDSA_WITH_SHA384: u32 = 0x0000000F;
    pub const ECDSA_WITH_SHA512: u32 = 0x00000010;
    pub const SHA3_256_WITH_RSA_ENCRYPTION: u32 = 0x00000011;
    pub const SHA3_384_WITH_RSA_ENCRYPTION: u32 = 0x00000012;
    pub const SHA3_512_WITH_RSA_ENCRYPTION: u32 = 0x00000013;
}

pub mod drbg_algorithm {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const DUAL_EC: u32 = 0x00000002;
    pub const HASH: u32 = 0x00000003;
    pub const HMAC: u32 = 0x00000004;
    pub const CTR: u32 = 0x00000005;
}

pub mod encoding_option {
    pub const NO_ENCODING: u32 = 0x00000001;
    pub const TTLV_ENCODING: u32 = 0x00000002;
}

pub mod endpoint_role {
    pub const CLIENT: u32 = 0x00000001;
    pub const SERVER: u32 = 0x00000002;
}

pub mod fips186_variation {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const GP_X_ORIGINAL: u32 = 0x00000002;
    pub const GP_X_CHANGE_NOTICE: u32 = 0x00000003;
    pub const X_ORIGINAL: u32 = 0x00000004;
    pub const X_CHANGE_NOTICE: u32 = 0x00000005;
    pub const K_ORIGINAL: u32 = 0x00000006;
    pub const K_CHANGE_NOTICE: u32 = 0x00000007;
}

pub mod hashing_algorithm {
    pub const MD2: u32 = 0x00000001;
    pub const MD4: u32 = 0x00000002;
    pub const MD5: u32 = 0x00000003;
    pub const SHA_1: u32 = 0x00000004;
    pub const SHA_224: u32 = 0x00000005;
    pub const SHA_256: u32 = 0x00000006;
    pub const SHA_384: u32 = 0x00000007;
    pub const SHA_512: u32 = 0x00000008;
    pub const RIPEMD_160: u32 = 0x00000009;
    pub const TIGER: u32 = 0x0000000A;
    pub const WHIRLPOOL: u32 = 0x0000000B;
    pub const SHA_512_224: u32 = 0x0000000C;
    pub const SHA_512_256: u32 = 0x0000000D;
    pub const SHA3_224: u32 = 0x0000000E;
    pub const SHA3_256: u32 = 0x0000000F;
    pub const SHA3_384: u32 = 0x00000010;
    pub const SHA3_512: u32 = 0x00000011;
}

pub mod interop_function {
    pub const BEGIN: u32 = 0x00000001;
    pub const END: u32 = 0x00000002;
    pub const RESET: u32 = 0x00000003;
}

pub mod key_compression_type {
    pub const EC_PUBLIC_KEY_TYPE_UNCOMPRESSED: u32 = 0x00000001;
    pub const EC_PUBLIC_KEY_TYPE_X9_62_COMPRESSED_PRIME: u32 = 0x00000002;
    pub const EC_PUBLIC_KEY_TYPE_X9_62_COMPRESSED_CHAR2: u32 = 0x00000003;
    pub const EC_PUBLIC_KEY_TYPE_X9_62_HYBRID: u32 = 0x00000004;
}

pub mod key_format_type {
    pub const RAW: u32 = 0x00000001;
    pub const OPAQUE: u32 = 0x00000002;
    pub const PKCS_1: u32 = 0x00000003;
    pub const PKCS_8: u32 = 0x00000004;
    pub const X_509: u32 = 0x00000005;
    pub const EC_PRIVATE_KEY: u32 = 0x00000006;
    pub const TRANSPARENT_SYMMETRIC_KEY: u32 = 0x00000007;
    pub const TRANSPARENT_DSA_PRIVATE_KEY: u32 = 0x00000008;
    pub const TRANSPARENT_DSA_PUBLIC_KEY: u32 = 0x00000009;
    pub const TRANSPARENT_RSA_PRIVATE_KEY: u32 = 0x0000000A;
    pub const TRANSPARENT_RSA_PUBLIC_KEY: u32 = 0x0000000B;
    pub const TRANSPARENT_DH_PRIVATE_KEY: u32 = 0x0000000C;
    pub const TRANSPARENT_DH_PUBLIC_KEY: u32 = 0x0000000D;
    pub const TRANSPARENT_ECDSA_PRIVATE_KEY: u32 = 0x0000000E;
    pub const TRANSPARENT_ECDSA_PUBLIC_KEY: u32 = 0x0000000F;
    pub const TRANSPARENT_ECDH_PRIVATE_KEY: u32 = 0x00000010;
    pub const TRANSPARENT_ECDH_PUBLIC_KEY: u32 = 0x00000011;
    pub const TRANSPARENT_ECMQV_PRIVATE_KEY: u32 = 0x00000012;
    pub const TRANSPARENT_ECMQV_PUBLIC_KEY: u32 = 0x00000013;
    pub const TRANSPARENT_EC_PRIVATE_KEY: u32 = 0x00000014;
    pub const TRANSPARENT_EC_PUBLIC_KEY: u32 = 0x00000015;
    pub const PKCS_12: u32 = 0x00000016;
}

pub mod key_role_type {
    pub const BDK: u32 = 0x00000001;
    pub const CVK: u32 = 0x00000002;
    pub const DEK: u32 = 0x00000003;
    pub const MKAC: u32 = 0x00000004;
    pub const MKSMC: u32 = 0x00000005;
    pub const MKSMI: u32 = 0x00000006;
    pub const MKDAC: u32 = 0x00000007;
    pub const MKDN: u32 = 0x00000008;
    pub const MKCP: u32 = 0x00000009;
    pub const MKOTH: u32 = 0x0000000A;
    pub const KEK: u32 = 0x0000000B;
    pub const MAC_16609: u32 = 0x0000000C;
    pub const MAC_97971: u32 = 0x0000000D;
    pub const MAC_97972: u32 = 0x0000000E;
    pub const MAC_97973: u32 = 0x0000000F;
    pub const MAC_97974: u32 = 0x00000010;
    pub const MAC_97975: u32 = 0x00000011;
    pub const ZPK: u32 = 0x00000012;
    pub const PVKIBM: u32 = 0x00000013;
    pub const PVKPVV: u32 = 0x00000014;
    pub const PVKOTH: u32 = 0x00000015;
    pub const DUKPT: u32 = 0x00000016;
    pub const IV: u32 = 0x00000017;
    pub const TRKBK: u32 = 0x00000018;
}

pub mod key_value_location_type {
    pub const UNINTERPRETED_TEXT_STRING: u32 = 0x00000001;
    pub const URI: u32 = 0x00000002;
}

pub mod key_wrap_type {
    pub const NOT_WRAPPED: u32 = 0x00000001;
    pub const AS_REGISTERED: u32 = 0x00000002;
}

pub mod link_type {
    pub const CERTIFICATE_LINK: u32 = 0x00000101;
    pub const PUBLIC_KEY_LINK: u32 = 0x00000102;
    pub const PRIVATE_KEY_LINK: u32 = 0x00000103;
    pub const DERIVATION_BASE_OBJECT_LINK: u32 = 0x00000104;
    pub const DERIVED_KEY_LINK: u32 = 0x00000105;
    pub const REPLACEMENT_OBJECT_LINK: u32 = 0x00000106;
    pub const REPLACED_OBJECT_LINK: u32 = 0x00000107;
    pub const PARENT_LINK: u32 = 0x00000108;
    pub const CHILD_LINK: u32 = 0x00000109;
    pub const PREVIOUS_LINK: u32 = 0x0000010A;
    pub const NEXT_LINK: u32 = 0x0000010B;
    pub const PKCS12_CERTIFICATE_LINK: u32 = 0x0000010C;
    pub const PKCS12_PASSWORD_LINK: u32 = 0x0000010D;
    pub const WRAPPING_KEY_LINK: u32 = 0x0000010E;
}

pub mod mask_generator {
    pub const MGF1: u32 = 0x00000001;
}

pub mod name_type {
    pub const UNINTERPRETED_TEXT_STRING: u32 = 0x00000001;
    pub const URI: u32 = 0x00000002;
}

pub mod nist_key_type {
    pub const PRIVATE_SIGNATURE_KEY: u32 = 0x00000001;
    pub const PUBLIC_SIGNATURE_VERIFICATION_KEY: u32 = 0x00000002;
    pub const SYMMETRIC_AUTHENTICATION_KEY: u32 = 0x00000003;
    pub const PRIVATE_AUTHENTICATION_KEY: u32 = 0x00000004;
    pub const PUBLIC_AUTHENTICATION_KEY: u32 = 0x00000005;
    pub const SYMMETRIC_DATA_ENCRYPTION_KEY: u32 = 0x00000006;
    pub const SYMMETRIC_KEY_WRAPPING_KEY: u32 = 0x00000007;
    pub const SYMMETRIC_RANDOM_NUMBER_GENERATION_KEY: u32 = 0x00000008;
    pub const SYMMETRIC_MASTER_KEY: u32 = 0x00000009;
    pub const PRIVATE_KEY_TRANSPORT_KEY: u32 = 0x0000000A;
    pub const PUBLIC_KEY_TRANSPORT_KEY: u32 = 0x0000000B;
    pub const SYMMETRIC_KEY_AGREEMENT_KEY: u32 = 0x0000000C;
    pub const PRIVATE_STATIC_KEY_AGREEMENT_KEY: u32 = 0x0000000D;
    pub const PUBLIC_STATIC_KEY_AGREEMENT_KEY: u32 = 0x0000000E;
    pub const PRIVATE_EPHEMERAL_KEY_AGREEMENT_KEY: u32 = 0x0000000F;
    pub const PUBLIC_EPHEMERAL_KEY_AGREEMENT_KEY: u32 = 0x00000010;
    pub const SYMMETRIC_AUTHORIZATION_KEY: u32 = 0x00000011;
    pub const PRIVATE_AUTHORIZATION_KEY: u32 = 0x00000012;
    pub const PUBLIC_AUTHORIZATION_KEY: u32 = 0x00000013;
}

pub mod object_group_member {
    pub const GROUP_MEMBER_FRESH: u32 = 0x00000001;
    pub const GROUP_MEMBER_DEFAULT: u32 = 0x00000002;
}

pub mod object_type {
    pub const CERTIFICATE: u32 = 0x00000001;
    pub const SYMMETRIC_KEY: u32 = 0x00000002;
    pub const PUBLIC_KEY: u32 = 0x00000003;
    pub const PRIVATE_KEY: u32 = 0x00000004;
    pub const SPLIT_KEY: u32 = 0x00000005;
    pub const TEMPLATE: u32 = 0x00000006;
    pub const SECRET_DATA: u32 = 0x00000007;
    pub const OPAQUE_DATA: u32 = 0x00000008;
    pub const PGP_KEY: u32 = 0x00000009;
    pub const CERTIFICATE_REQUEST: u32 = 0x0000000A;
}

pub mod opaque_data_type {
    pub const NONE: u32 = 0x80000000;
}

pub mod operation {
    pub const CREATE: u32 = 0x00000001;
    pub const CREATE_KEY_PAIR: u32 = 0x00000002;
    pub const REGISTER: u32 = 0x00000003;
    pub const REKEY: u32 = 0x00000004;
    pub const DERIVE_KEY: u32 = 0x00000005;
    pub const CERTIFY: u32 = 0x00000006;
    pub const RECERTIFY: u32 = 0x00000007;
    pub const LOCATE: u32 = 0x00000008;
    pub const CHECK: u32 = 0x00000009;
    pub const GET: u32 = 0x0000000A;
    pub const GET_ATTRIBUTES: u32 = 0x0000000B;
    pub const GET_ATTRIBUTE_LIST: u32 = 0x0000000C;
    pub const ADD_ATTRIBUTE: u32 = 0x0000000D;
    pub const MODIFY_ATTRIBUTE: u32 = 0x0000000E;
    pub const DELETE_ATTRIBUTE: u32 = 0x0000000F;
    pub const OBTAIN_LEASE: u32 = 0x00000010;
    pub const GET_USAGE_ALLOCATION: u32 = 0x00000011;
    pub const ACTIVATE: u32 = 0x00000012;
    pub const REVOKE: u32 = 0x00000013;
    pub const DESTROY: u32 = 0x00000014;
    pub const ARCHIVE: u32 = 0x00000015;
    pub const RECOVER: u32 = 0x00000016;
    pub const VALIDATE: u32 = 0x00000017;
    pub const QUERY: u32 = 0x00000018;
    pub const CANCEL: u32 = 0x00000019;
    pub const POLL: u32 = 0x0000001A;
    pub const NOTIFY: u32 = 0x0000001B;
    pub const PUT: u32 = 0x0000001C;
    pub const REKEY_KEY_PAIR: u32 = 0x0000001D;
    pub const DISCOVER_VERSIONS: u32 = 0x0000001E;
    pub const ENCRYPT: u32 = 0x0000001F;
    pub const DECRYPT: u32 = 0x00000020;
    pub const SIGN: u32 = 0x00000021;
    pub const SIGNATURE_VERIFY: u32 = 0x00000022;
    pub const MAC: u32 = 0x00000023;
    pub const MAC_VERIFY: u32 = 0x00000024;
    pub const RNG_RETRIEVE: u32 = 0x00000025;
    pub const RNG_SEED: u32 = 0x00000026;
    pub const HASH: u32 = 0x00000027;
    pub const CREATE_SPLIT_KEY: u32 = 0x00000028;
    pub const JOIN_SPLIT_KEY: u32 = 0x00000029;
    pub const IMPORT: u32 = 0x0000002A;
    pub const EXPORT: u32 = 0x0000002B;
    pub const LOG: u32 = 0x0000002C;
    pub const LOGIN: u32 = 0x0000002D;
    pub const LOGOUT: u32 = 0x0000002E;
    pub const DELEGATED_LOGIN: u32 = 0x0000002F;
    pub const ADJUST_ATTRIBUTE: u32 = 0x00000030;
    pub const SET_ATTRIBUTE: u32 = 0x00000031;
    pub const SET_ENDPOINT_ROLE: u32 = 0x00000032;
    pub const PKCS_11: u32 = 0x00000033;
    pub const INTEROP: u32 = 0x00000034;
    pub const REPROVISION: u32 = 0x00000035;
}

pub mod padding_method {
    pub const NONE: u32 = 0x00000001;
    pub const OAEP: u32 = 0x00000002;
    pub const PKCS5: u32 = 0x00000003;
    pub const SSL3: u32 = 0x00000004;
    pub const ZEROS: u32 = 0x00000005;
    pub const ANSI_X923: u32 = 0x00000006;
    pub const ISO_10126: u32 = 0x00000007;
    pub const X931: u32 = 0x00000009;
    pub const PSS: u32 = 0x0000000A;
}

pub mod profile_name {
    pub const COMPLETE_SERVER_BASIC: u32 = 0x00000104;
    pub const TAPE_LIBRARY_CLIENT: u32 = 0x00000106;
    pub const TAPE_LIBRARY_SERVER: u32 = 0x00000107;
    pub const SYMMETRIC_KEY_LIFECYCLE_CLIENT: u32 = 0x00000108;
    pub const SYMMETRIC_KEY_LIFECYCLE_SERVER: u32 = 0x00000109;
    pub const ASYMMETRIC_KEY_LIFECYCLE_CLIENT: u32 = 0x0000010A;
    pub const ASYMMETRIC_KEY_LIFECYCLE_SERVER: u32 = 0x0000010B;
    pub const BASIC_CRYPTOGRAPHIC_CLIENT: u32 = 0x0000010C;
    pub const BASIC_CRYPTOGRAPHIC_SERVER: u32 = 0x0000010D;
    pub const ADVANCED_CRYPTOGRAPHIC_CLIENT: u32 = 0x0000010E;
    pub const ADVANCED_CRYPTOGRAPHIC_SERVER: u32 = 0x0000010F;
    pub const RNG_CRYPTOGRAPHIC_CLIENT: u32 = 0x00000110;
    pub const RNG_CRYPTOGRAPHIC_SERVER: u32 = 0x00000111;
    pub const BASIC_SYMMETRIC_KEY_FOUNDRY_CLIENT: u32 = 0x00000112;
    pub const INTERMEDIATE_SYMMETRIC_KEY_FOUNDRY_CLIENT: u32 = 0x00000113;
    pub const ADVANCED_SYMMETRIC_KEY_FOUNDRY_CLIENT: u32 = 0x00000114;
    pub const SYMMETRIC_KEY_FOUNDRY_SERVER: u32 = 0x00000115;
    pub const OPAQUE_MANAGED_OBJECT_STORE_CLIENT: u32 = 0x00000116;
    pub const OPAQUE_MANAGED_OBJECT_STORE_SERVER: u32 = 0x00000117;
    pub const SUITE_B_MINLOS_128_CLIENT: u32 = 0x00000118;
    pub const SUITE_B_MINLOS_128_SERVER: u32 = 0x00000119;
    pub const SUITE_B_MINLOS_192_CLIENT: u32 = 0x0000011A;
    pub const SUITE_B_MINLOS_192_SERVER: u32 = 0x0000011B;
    pub const STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_CLIENT: u32 = 0x0000011C;
    pub const STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER: u32 = 0x0000011D;
    pub const HTTPS_CLIENT: u32 = 0x0000011E;
    pub const HTTPS_SERVER: u32 = 0x0000011F;
    pub const JSON_CLIENT: u32 = 0x00000120;
    pub const JSON_SERVER: u32 = 0x00000121;
    pub const XML_CLIENT: u32 = 0x00000122;
    pub const XML_SERVER: u32 = 0x00000123;
    pub const AES_XTS_CLIENT: u32 = 0x00000124;
    pub const AES_XTS_SERVER: u32 = 0x00000125;
    pub const QUANTUM_SAFE_CLIENT: u32 = 0x00000126;
    pub const QUANTUM_SAFE_SERVER: u32 = 0x00000127;
    pub const PKCS11_CLIENT: u32 = 0x00000128;
    pub const PKCS11_SERVER: u32 = 0x00000129;
    pub const BASELINE_CLIENT: u32 = 0x0000012A;
    pub const BASELINE_SERVER: u32 = 0x0000012B;
    pub const COMPLETE_SERVER: u32 = 0x0000012C;
}

pub mod protection_level {
    pub const HIGH: u32 = 0x00000001;
    pub const LOW: u32 = 0x00000002;
}

pub mod protection_storage_mask {
    pub const SOFTWARE: u32 = 0x00000001;
    pub const HARDWARE: u32 = 0x00000002;
    pub const ON_PROCESSOR: u32 = 0x00000004;
    pub const ON_SYSTEM: u32 = 0x00000008;
    pub const OFF_SYSTEM: u32 = 0x00000010;
    pub const HYPERVISOR: u32 = 0x00000020;
    pub const OPERATING_SYSTEM: u32 = 0x00000040;
    pub const CONTAINER: u32 = 0x00000080;
    pub const ON_PREMISES: u32 = 0x00000100;
    pub const OFF_PREMISES: u32 = 0x00000200;
    pub const SELF_MANAGED: u32 = 0x00000400;
    pub const OUTSOURCED: u32 = 0x00000800;
    pub const VALIDATED: u32 = 0x00001000;
    pub const SAME_JURISDICTION: u32 = 0x00002000;
}

pub mod put_function {
    pub const NEW: u32 = 0x00000001;
    pub const REPLACE: u32 = 0x00000002;
}

pub mod query_function {
    pub const QUERY_OPERATIONS: u32 = 0x00000001;
    pub const QUERY_OBJECTS: u32 = 0x00000002;
    pub const QUERY_SERVER_INFORMATION: u32 = 0x00000003;
    pub const QUERY_APPLICATION_NAMESPACES: u32 = 0x00000004;
    pub const QUERY_EXTENSION_LIST: u32 = 0x00000005;
    pub const QUERY_EXTENSION_MAP: u32 = 0x00000006;
    pub const QUERY_ATTESTATION_TYPES: u32 = 0x00000007;
    pub const QUERY_RNGS: u32 = 0x00000008;
    pub const QUERY_VALIDATIONS: u32 = 0x00000009;
    pub const QUERY_PROFILES: u32 = 0x0000000A;
    pub const QUERY_CAPABILITIES: u32 = 0x0000000B;
    pub const QUERY_CLIENT_REGISTRATION_METHODS: u32 = 0x0000000C;
    pub const QUERY_DEFAULTS_INFORMATION: u32 = 0x0000000D;
    pub const QUERY_STORAGE_PROTECTION_MASKS: u32 = 0x0000000E;
}

pub mod recommended_curve {
    pub const P_192: u32 = 0x00000001;
    pub const K_163: u32 = 0x00000002;
    pub const B_163: u32 = 0x00000003;
    pub const P_224: u32 = 0x00000004;
    pub const K_233: u32 = 0x00000005;
    pub const B_233: u32 = 0x00000006;
    pub const P_256: u32 = 0x00000007;
    pub const K_283: u32 = 0x00000008;
    pub const B_283: u32 = 0x00000009;
    pub const P_384: u32 = 0x0000000A;
    pub const K_409: u32 = 0x0000000B;
    pub const B_409: u32 = 0x0000000C;
    pub const P_521: u32 = 0x0000000D;
    pub const K_571: u32 = 0x0000000E;
    pub const B_571: u32 = 0x0000000F;
    pub const SECP112R1: u32 = 0x00000010;
    pub const SECP112R2: u32 = 0x00000011;
    pub const SECP128R1: u32 = 0x00000012;
    pub const SECP128R2: u32 = 0x00000013;
    pub const SECP160K1: u32 = 0x00000014;
    pub const SECP160R1: u32 = 0x00000015;
    pub const SECP160R2: u32 = 0x00000016;
    pub const SECP191K1: u32 = 0x00000017;
    pub const SECP224K1: u32 = 0x00000018;
    pub const SECP256K1: u32 = 0x00000019;
    pub const SECT113R1: u32 = 0x0000001A;
    pub const SECT113R2: u32 = 0x0000001B;
    pub const SECT131R1: u32 = 0x0000001C;
    pub const SECT131R2: u32 = 0x0000001D;
    pub const SECT163R1: u32 = 0x0000001E;
    pub const SECT193R1: u32 = 0x0000001F;
    pub const SECT193R2: u32 = 0x00000020;
    pub const SECT239K1: u32 = 0x00000021;
    pub const ANSIX9P192V2: u32 = 0x00000022;
    pub const ANSIX9P192V3: u32 = 0x00000023;
    pub const ANSIX9P239V1: u32 = 0x00000024;
    pub const ANSIX9P239V2: u32 = 0x00000025;
    pub const ANSIX9P239V3: u32 = 0x00000026;
    pub const ANSIX9C2PNB163V1: u32 = 0x00000027;
    pub const ANSIX9C2PNB163V2: u32 = 0x00000028;
    pub const ANSIX9C2PNB163V3: u32 = 0x00000029;
    pub const ANSIX9C2PNB176V1: u32 = 0x0000002A;
    pub const ANSIX9C2TNB191V1: u32 = 0x0000002B;
    pub const ANSIX9C2TNB191V2: u32 = 0x0000002C;
    pub const ANSIX9C2TNB191V3: u32 = 0x0000002D;
    pub const ANSIX9C2PNB208W1: u32 = 0x0000002E;
    pub const ANSIX9C2TNB239V1: u32 = 0x0000002F;
    pub const ANSIX9C2TNB239V2: u32 = 0x00000030;
    pub const ANSIX9C2TNB239V3: u32 = 0x00000031;
    pub const ANSIX9C2PNB272W1: u32 = 0x00000032;
    pub const ANSIX9C2PNB304W1: u32 = 0x00000033;
    pub const ANSIX9C2TNB359V1: u32 = 0x00000034;
    pub const ANSIX9C2PNB368W1: u32 = 0x00000035;
    pub const ANSIX9C2TNB431R1: u32 = 0x00000036;
    pub const BRAINPOOLP160R1: u32 = 0x00000037;
    pub const BRAINPOOLP160T1: u32 = 0x00000038;
    pub const BRAINPOOLP192R1: u32 = 0x00000039;
    pub const BRAINPOOLP192T1: u32 = 0x0000003A;
    pub const BRAINPOOLP224R1: u32 = 0x0000003B;
    pub const BRAINPOOLP224T1: u32 = 0x0000003C;
    pub const BRAINPOOLP256R1: u32 = 0x0000003D;
    pub const BRAINPOOLP256T1: u32 = 0x0000003E;
    pub const BRAINPOOLP320R1: u32 = 0x0000003F;
    pub const BRAINPOOLP320T1: u32 = 0x00000040;
    pub const BRAINPOOLP384R1: u32 = 0x00000041;
    pub const BRAINPOOLP384T1: u32 = 0x00000042;
    pub const BRAINPOOLP512R1: u32 = 0x00000043;
    pub const BRAINPOOLP512T1: u32 = 0x00000044;
    pub const CURVE25519: u32 = 0x00000045;
    pub const CURVE448: u32 = 0x00000046;
}

pub mod result_reason {
    pub const ITEM_NOT_FOUND: u32 = 0x00000001;
    pub const RESPONSE_TOO_LARGE: u32 = 0x00000002;
    pub const AUTHENTICATION_NOT_SUCCESSFUL: u32 = 0x00000003;
    pub const INVALID_MESSAGE: u32 = 0x00000004;
    pub const OPERATION_NOT_SUPPORTED: u32 = 0x00000005;
    pub const MISSING_DATA: u32 = 0x00000006;
    pub const INVALID_FIELD: u32 = 0x00000007;
    pub const FEATURE_NOT_SUPPORTED: u32 = 0x00000008;
    pub const OPERATION_CANCELED_BY_REQUESTER: u32 = 0x00000009;
    pub const CRYPTOGRAPHIC_FAILURE: u32 = 0x0000000A;
    pub const ILLEGAL_OPERATION: u32 = 0x0000000B;
    pub const PERMISSION_DENIED: u32 = 0x0000000C;
    pub const OBJECT_ARCHIVED: u32 = 0x0000000D;
    pub const INDEX_OUT_OF_BOUNDS: u32 = 0x0000000E;
    pub const APPLICATION_NAMESPACE_NOT_SUPPORTED: u32 = 0x0000000F;
    pub const KEY_FORMAT_TYPE_NOT_SUPPORTED: u32 = 0x00000010;
    pub const KEY_COMPRESSION_TYPE_NOT_SUPPORTED: u32 = 0x00000011;
    pub const ENCODING_OPTION_ERROR: u32 = 0x00000012;
    pub const KEY_VALUE_NOT_PRESENT: u32 = 0x00000013;
    pub const ATTESTATION_REQUIRED: u32 = 0x00000014;
    pub const ATTESTATION_FAILED: u32 = 0x00000015;
    pub const SENSITIVE: u32 = 0x00000016;
    pub const NOT_EXTRACTABLE: u32 = 0x00000017;
    pub const OBJECT_ALREADY_EXISTS: u32 = 0x00000018;
    pub const GENERAL_FAILURE: u32 = 0x00000100;
    pub const INVALID_TICKET: u32 = 0x00000019;
    pub const USAGE_LIMIT_EXCEEDED: u32 = 0x0000001A;
    pub const NUMERIC_RANGE: u32 = 0x0000001B;
    pub const INVALID_DATA_TYPE: u32 = 0x0000001C;
    pub const READ_ONLY_ATTRIBUTE: u32 = 0x0000001D;
    pub const MULTI_VALUED_ATTRIBUTE: u32 = 0x0000001E;
    pub const UNSUPPORTED_ATTRIBUTE: u32 = 0x0000001F;
    pub const ATTRIBUTE_INSTANCE_NOT_FOUND: u32 = 0x00000020;
    pub const ATTRIBUTE_NOT_FOUND: u32 = 0x00000021;
    pub const ATTRIBUTE_READ_ONLY: u32 = 0x00000022;
    pub const ATTRIBUTE_SINGLE_VALUED: u32 = 0x00000023;
    pub const BAD_CRYPTOGRAPHIC_PARAMETERS: u32 = 0x00000024;
    pub const BAD_PASSWORD: u32 = 0x00000025;
    pub const CODEC_ERROR: u32 = 0x00000026;
    pub const ILLEGAL_OBJECT_TYPE: u32 = 0x00000028;
    pub const INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK: u32 = 0x00000029;
    pub const INTERNAL_SERVER_ERROR: u32 = 0x0000002A;
    pub const INVALID_ASYNCHRONOUS_CORRELATION_VALUE: u32 = 0x0000002B;
    pub const INVALID_ATTRIBUTE: u32 = 0x0000002C;
    pub const INVALID_ATTRIBUTE_VALUE: u32 = 0x0000002D;
    pub const INVALID_CORRELATION_VALUE: u32 = 0x0000002E;
    pub const INVALID_CSR: u32 = 0x0000002F;
    pub const INVALID_OBJECT_TYPE: u32 = 0x00000030;
    pub const KEY_WRAP_TYPE_NOT_SUPPORTED: u32 = 0x00000032;
    pub const MISSING_INITIALIZATION_VECTOR: u32 = 0x00000034;
    pub const NON_UNIQUE_NAME_ATTRIBUTE: u32 = 0x00000035;
    pub const OBJECT_DESTROYED: u32 = 0x00000036;
    pub const OBJECT_NOT_FOUND: u32 = 0x00000037;
    pub const NOT_AUTHORISED: u32 = 0x00000039;
    pub const SERVER_LIMIT_EXCEEDED: u32 = 0x0000003A;
    pub const UNKNOWN_ENUMERATION: u32 = 0x0000003B;
    pub const UNKNOWN_MESSAGE_EXTENSION: u32 = 0x0000003C;
    pub const UNKNOWN_TAG: u32 = 0x0000003D;
    pub const UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS: u32 = 0x0000003E;
    pub const UNSUPPORTED_PROTOCOL_VERSION: u32 = 0x0000003F;
    pub const WRAPPING_OBJECT_ARCHIVED: u32 = 0x00000040;
    pub const WRAPPING_OBJECT_DESTROYED: u32 = 0x00000041;
    pub const WRAPPING_OBJECT_NOT_FOUND: u32 = 0x00000042;
    pub const WRONG_KEY_LIFECYCLE_STATE: u32 = 0x00000043;
    pub const PROTECTION_STORAGE_UNAVAILABLE: u32 = 0x00000044;
    pub const PKCS11_CODEC_ERROR: u32 = 0x00000045;
    pub const PKCS11_INVALID_FUNCTION: u32 = 0x00000046;
    pub const PKCS11_INVALID_INTERFACE: u32 = 0x00000047;
}

pub mod result_status {
    pub const SUCCESS: u32 = 0x00000000;
    pub const OPERATION_FAILED: u32 = 0x00000001;
    pub const OPERATION_PENDING: u32 = 0x00000002;
    pub const OPERATION_UNDONE: u32 = 0x00000003;
}

pub mod revocation_reason_code {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const KEY_COMPROMISE: u32 = 0x00000002;
    pub const CA_COMPROMISE: u32 = 0x00000003;
    pub const AFFILIATION_CHANGED: u32 = 0x00000004;
    pub const SUPERSEDED: u32 = 0x00000005;
    pub const CESSATION_OF_OPERATION: u32 = 0x00000006;
    pub const PRIVILEGE_WITHDRAWN: u32 = 0x00000007;
}

pub mod rng_algorithm {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const FIPS186_2: u32 = 0x00000002;
    pub const DRBG: u32 = 0x00000003;
    pub const NRBG: u32 = 0x00000004;
    pub const ANSI_X931: u32 = 0x00000005;
    pub const ANSI_X962: u32 = 0x00000006;
}

pub mod rng_mode {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const SHARED_INSTANTIATION: u32 = 0x00000002;
    pub const NON_SHARED_INSTANTIATION: u32 = 0x00000003;
}

pub mod secret_data_type {
    pub const PASSWORD: u32 = 0x00000001;
    pub const SEED: u32 = 0x00000002;
}

pub mod shredding_algorithm {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const CRYPTOGRAPHIC: u32 = 0x00000002;
    pub const UNSUPPORTED: u32 = 0x00000003;
}

pub mod split_key_method {
    pub const XOR: u32 = 0x00000001;
    pub const POLYNOMIAL_SHARING_GF_2_16: u32 = 0x00000002;
    pub const POLYNOMIAL_SHARING_PRIME_FIELD: u32 = 0x00000003;
    pub const POLYNOMIAL_SHARING_GF_2_8: u32 = 0x00000004;
}

pub mod state {
    pub const PRE_ACTIVE: u32 = 0x00000001;
    pub const ACTIVE: u32 = 0x00000002;
    pub const DEACTIVATED: u32 = 0x00000003;
    pub const COMPROMISED: u32 = 0x00000004;
    pub const DESTROYED: u32 = 0x00000005;
    pub const DESTROYED_COMPROMISED: u32 = 0x00000006;
}

pub mod storage_status_mask {
    pub const ONLINE_STORAGE: u32 = 0x00000001;
    pub const ARCHIVAL_STORAGE: u32 = 0x00000002;
    pub const DESTROYED_STORAGE: u32 = 0x00000004;
}

pub mod ticket_type {
    pub const LOGIN: u32 = 0x00000001;
}

pub mod unique_identifier {
    pub const ID_PLACEHOLDER: u32 = 0x00000001;
    pub const CERTIFY: u32 = 0x00000002;
    pub const CREATE: u32 = 0x00000003;
    pub const CREATE_KEY_PAIR: u32 = 0x00000004;
    pub const CREATE_KEY_PAIR_PRIVATE_KEY: u32 = 0x00000005;
    pub const CREATE_KEY_PAIR_PUBLIC_KEY: u32 = 0x00000006;
    pub const CREATE_SPLIT_KEY: u32 = 0x00000007;
    pub const DERIVE_KEY: u32 = 0x00000008;
    pub const IMPORT: u32 = 0x00000009;
    pub const JOIN_SPLIT_KEY: u32 = 0x0000000A;
    pub const LOCATE: u32 = 0x0000000B;
    pub const REGISTER: u32 = 0x0000000C;
    pub const REKEY: u32 = 0x0000000D;
    pub const RECERTIFY: u32 = 0x0000000E;
    pub const REKEY_KEY_PAIR: u32 = 0x0000000F;
    pub const REKEY_KEY_PAIR_PRIVATE_KEY: u32 = 0x00000010;
    pub const REKEY_KEY_PAIR_PUBLIC_KEY: u32 = 0x00000011;
}

pub mod unwrap_mode {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const PROCESSED: u32 = 0x00000002;
    pub const NOT_PROCESSED: u32 = 0x00000003;
}

pub mod usage_limits_unit {
    pub const BYTE: u32 = 0x00000001;
    pub const OBJECT: u32 = 0x00000002;
}

pub mod validation_authority_type {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const NIST_CMVP: u32 = 0x00000002;
    pub const COMMON_CRITERIA: u32 = 0x00000003;
}

pub mod validation_type {
    pub const UNSPECIFIED: u32 = 0x00000001;
    pub const HARDWARE: u32 = 0x00000002;
    pub const SOFTWARE: u32 = 0x00000003;
    pub const FIRMWARE: u32 = 0x00000004;
    pub const HYBRID: u32 = 0x00000005;
}

pub mod validity_indicator {
    pub const VALID: u32 = 0x00000001;
    pub const INVALID: u32 = 0x00000002;
    pub const UNKNOWN: u32 = 0x00000003;
}

pub mod wrapping_method {
    pub const ENCRYPT: u32 = 0x00000001;
    pub const MAC_SIGN: u32 = 0x00000002;
    pub const ENCRYPT_THEN_MAC_SIGN: u32 = 0x00000003;
    pub const MAC_SIGN_THEN_ENCRYPT: u32 = 0x00000004;
    pub const TR_31: u32 = 0x00000005;
}

/// Every enumeration: its name and its (value name, value) pairs.
pub static ENUMERATIONS: &[(&str, &[(&str, u32)])] = &[
    (
        "AdjustmentType",
        &[
            ("Increment", 0x00000001),
            ("Decrement", 0x00000002),
            ("Negate", 0x00000003),
        ],
    ),
    (
        "AlternativeNameType",
        &[
            ("UninterpretedTextString", 0x00000001),
            ("Uri", 0x00000002),
            ("ObjectSerialNumber", 0x00000003),
            ("EmailAddress", 0x00000004),
            ("DnsName", 0x00000005),
            ("X500DistinguishedName", 0x00000006),
            ("IpAddress", 0x00000007),
        ],
    ),
    (
        "AsynchronousIndicator",
        &[
            ("Mandatory", 0x00000001),
            ("Optional", 0x00000002),
            ("Prohibited", 0x00000003),
        ],
    ),
    (
        "AttestationType",
        &[
            ("TpmQuote", 0x00000001),
            ("TcgIntegrityReport", 0x00000002),
            ("SamlAssertion", 0x00000003),
        ],
    ),
    (
        "AuthenticationSuite",
        &[("Basic", 0x00000001), ("Tls12", 0x00000002)],
    ),
    (
        "BatchErrorContinuationOption",
        &[
            ("Continue", 0x00000001),
            ("Stop", 0x00000002),
            ("Undo", 0x00000003),
        ],
    ),
    (
        "BlockCipherMode",
        &[
            ("Cbc", 0x00000001),
            ("Ecb", 0x00000002),
            ("Pcbc", 0x00000003),
            ("Cfb", 0x00000004),
            ("Ofb", 0x00000005),
            ("Ctr", 0x00000006),
            ("Cmac", 0x00000007),
            ("Ccm", 0x00000008),
            ("Gcm", 0x00000009),
            ("CbcMac", 0x0000000A),
            ("Xts", 0x0000000B),
            ("AesKeyWrapPadding", 0x0000000C),
            ("NistKeyWrap", 0x0000000D),
            ("X9102Aeskw", 0x0000000E),
            ("X9102Tdkw", 0x0000000F),
            ("X9102Akw1", 0x00000010),
            ("X9102Akw2", 0x00000011),
            ("Aead", 0x00000012),
        ],
    ),
    (
        "CancellationResult",
        &[
            ("Canceled", 0x00000001),
            ("UnableToCancel", 0x00000002),
            ("Completed", 0x00000003),
            ("Failed", 0x00000004),
            ("Unavailable", 0x00000005),
        ],
    ),
    (
        "CertificateRequestType",
        &[
            ("Crmf", 0x00000001),
            ("Pkcs10", 0x00000002),
            ("Pem", 0x00000003),
            ("Pgp", 0x00000004),
        ],
    ),
    (
        "CertificateType",
        &[("X509", 0x00000001), ("Pgp", 0x00000002)],
    ),
    (
        "ClientRegistrationMethod",
        &[
            ("Unspecified", 0x00000001),
            ("ServerPregenerated", 0x00000002),
            ("ServerOnDemand", 0x00000003),
            ("ClientGenerated", 0x00000004),
            ("ClientRegistered", 0x00000005),
        ],
    ),
    (
        "ConformanceClause",
        &[
            ("DiscoverVersions", 0x00000001),
            ("Baseline", 0x00000002),
            ("SecretData", 0x00000003),
            ("SymmetricKeyStore", 0x00000004),
            ("SymmetricKeyFoundry", 0x00000005),
            ("AsymmetricKeyStore", 0x00000006),
            ("AsymmetricKeyAndCertificateStore", 0x00000007),
            ("AsymmetricKeyFoundry", 0x00000008),
            ("Certificate", 0x00000009),
            ("AsymmetricKeyFoundryAndCertificate", 0x0000000A),
            ("Storage", 0x0000000B),
        ],
    ),
    (
        "CredentialType",
        &[
            ("UsernameAndPassword", 0x00000001),
            ("Device", 0x00000002),
            ("Attestation", 0x00000003),
            ("OneTimePassword", 0x00000004),
            ("HashedPassword", 0x00000005),
            ("Ticket", 0x00000006),
        ],
    ),
    (
        "CryptographicAlgorithm",
        &[
            ("Des", 0x00000001),
            ("TripleDes", 0x00000002),
            ("Aes", 0x00000003),
            ("Rsa", 0x00000004),
            ("Dsa", 0x00000005),
            ("Ecdsa", 0x00000006),
            ("HmacSha1", 0x00000007),
            ("HmacSha224", 0x00000008),
            ("HmacSha256", 0x00000009),
            ("HmacSha384", 0x0000000A),
            ("HmacSha512", 0x0000000B),
            ("HmacMd5", 0x0000000C),
            ("Dh", 0x0000000D),
            ("Ecdh", 0x0000000E),
            ("Ecmqv", 0x0000000F),
            ("Blowfish", 0x00000010),
            ("Camellia", 0x00000011),
            ("Cast5", 0x00000012),
            ("Idea", 0x00000013),
            ("Mars", 0x00000014),
            ("Rc2", 0x00000015),
            ("Rc4", 0x00000016),
            ("Rc5", 0x00000017),
            ("Skipjack", 0x00000018),
            ("Twofish", 0x00000019),
            ("Ec", 0x0000001A),
            ("OneTimePad", 0x0000001B),
            ("Chacha20", 0x0000001C),
            ("Poly1305", 0x0000001D),
            ("Chacha20Poly1305", 0x0000001E),
            ("Sha3224", 0x0000001F),
            ("Sha3256", 0x00000020),
            ("Sha3384", 0x00000021),
            ("Sha3512", 0x00000022),
            ("HmacSha3224", 0x00000023),
            ("HmacSha3256", 0x00000024),
            ("HmacSha3384", 0x00000025),
            ("HmacSha3512", 0x00000026),
            ("Shake128", 0x00000027),
            ("Shake256", 0x00000028),
            ("Aria", 0x00000029),
            ("Seed", 0x0000002A),
            ("Sm2", 0x0000002B),
            ("Sm3", 0x0000002C),
            ("Sm4", 0x0000002D),
            ("GostR34102012", 0x0000002E),
            ("GostR34112012", 0x0000002F),
            ("GostR34132015", 0x00000030),
            ("Gost2814789", 0x00000031),
            ("Xmss", 0x00000032),
            ("Sphincs256", 0x00000033),
            ("Mceliece", 0x00000034),
            ("Mceliece6960119", 0x00000035),
            ("Mceliece8192128", 0x00000036),
            ("Ed25519", 0x00000037),
            ("Ed448", 0x00000038),
        ],
    ),
    (
        "CryptographicUsageMask",
        &[
            ("Sign", 0x00000001),
            ("Verify", 0x00000002),
            ("Encrypt", 0x00000004),
            ("Decrypt", 0x00000008),
            ("WrapKey", 0x00000010),
            ("UnwrapKey", 0x00000020),
            ("Export", 0x00000040),
            ("MacGenerate", 0x00000080),
            ("MacVerify", 0x00000100),
            ("DeriveKey", 0x00000200),
            ("ContentCommitment", 0x00000400),
            ("KeyAgreement", 0x00000800),
            ("CertificateSign", 0x00001000),
            ("CrlSign", 0x00002000),
            ("GenerateCryptogram", 0x00004000),
            ("ValidateCryptogram", 0x00008000),
            ("TranslateEncrypt", 0x00010000),
            ("TranslateDecrypt", 0x00020000),
            ("TranslateWrap", 0x00040000),
            ("TranslateUnwrap", 0x00080000),
            ("Authenticate", 0x00100000),
            ("Unrestricted", 0x00200000),
            ("FpeEncrypt", 0x00400000),
            ("FpeDecrypt", 0x00800000),
        ],
    ),
    (
        "Data",
        &[
            ("Decrypt", 0x00000001),
            ("Encrypt", 0x00000002),
            ("Hash", 0x00000003),
            ("MacMacData", 0x00000004),
            ("RngRetrieve", 0x00000005),
            ("SignSignatureData", 0x00000006),
            ("SignatureVerify", 0x00000007),
        ],
    ),
    (
        "DerivationMethod",
        &[
            ("Pbkdf2", 0x00000001),
            ("Hash", 0x00000002),
            ("Hmac", 0x00000003),
            ("Encrypt", 0x00000004),
            ("Nist800108C", 0x00000005),
            ("Nist800108F", 0x00000006),
            ("Nist800108Dpi", 0x00000007),
            ("AsymmetricKey", 0x00000008),
            ("AwsSignatureVersion4", 0x00000009),
            ("Hkdf", 0x0000000A),
        ],
    ),
    (
        "DestroyAction",
        &[
            ("Unspecified", 0x00000001),
            ("KeyMaterialDeleted", 0x00000002),
            ("KeyMaterialShredded", 0x00000003),
            ("MetadataDeleted", 0x00000004),
            ("MetadataShredded", 0x00000005),
            ("Deleted", 0x00000006),
            ("Shredded", 0x00000007),
        ],
    ),
    (
        "DigitalSignatureAlgorithm",
        &[
            ("Md2WithRsaEncryption", 0x00000001),
            ("Md5WithRsaEncryption", 0x00000002),
            ("Sha1WithRsaEncryption", 0x00000003),
            ("Sha224WithRsaEncryption", 0x00000004),
            ("Sha256WithRsaEncryption", 0x00000005),
            ("Sha384WithRsaEncryption", 0x00000006),
            ("Sha512WithRsaEncryption", 0x00000007),
            ("RsassaPss", 0x00000008),
            ("DsaWithSha1", 0x00000009),
            ("DsaWithSha224", 0x0000000A),
            ("DsaWithSha256", 0x0000000B),
            ("EcdsaWithSha1", 0x0000000C),
            ("EcdsaWithSha224", 0x0000000D),
            ("EcdsaWithSha256", 0x0000000E),
            ("EcdsaWithSha384", 0x0000000F),
            ("EcdsaWithSha512", 0x00000010),
            ("Sha3256WithRsaEncryption", 0x00000011),
            ("Sha3384WithRsaEncryption", 0x00000012),
            ("Sha3512WithRsaEncryption", 0x00000013),
        ],
    ),
    (
        "DRBGAlgorithm",
        &[
            ("Unspecified", 0x00000001),
            ("DualEc", 0x00000002),
            ("Hash", 0x00000003),
            ("Hmac", 0x00000004),
            ("Ctr", 0x00000005),
        ],
    ),
    (
        "EncodingOption",
        &[("NoEncoding", 0x00000001), ("TtlvEncoding", 0x00000002)],
    ),
    (
        "EndpointRole",
        &[("Client", 0x00000001), ("Server", 0x00000002)],
    ),
    (
        "FIPS186Variation",
        &[
            ("Unspecified", 0x00000001),
            ("GpXOriginal", 0x00000002),
            ("GpXChangeNotice", 0x00000003),
            ("XOriginal", 0x00000004),
            ("XChangeNotice", 0x00000005),
            ("KOriginal", 0x00000006),
            ("KChangeNotice", 0x00000007),
        ],
    ),
    (
        "HashingAlgorithm",
        &[
            ("Md2", 0x00000001),
            ("Md4", 0x00000002),
            ("Md5", 0x00000003),
            ("Sha1", 0x00000004),
            ("Sha224", 0x00000005),
            ("Sha256", 0x00000006),
            ("Sha384", 0x00000007),
            ("Sha512", 0x00000008),
            ("Ripemd160", 0x00000009),
            ("Tiger", 0x0000000A),
            ("Whirlpool", 0x0000000B),
            ("Sha512224", 0x0000000C),
            ("Sha512256", 0x0000000D),
            ("Sha3224", 0x0000000E),
            ("Sha3256", 0x0000000F),
            ("Sha3384", 0x00000010),
            ("Sha3512", 0x00000011),
        ],
    ),
    (
        "InteropFunction",
        &[
            ("Begin", 0x00000001),
            ("End", 0x00000002),
            ("Reset", 0x00000003),
        ],
    ),
    (
        "KeyCompressionType",
        &[
            ("EcPublicKeyTypeUncompressed", 0x00000001),
            ("EcPublicKeyTypeX962CompressedPrime", 0x00000002),
            ("EcPublicKeyTypeX962CompressedChar2", 0x00000003),
            ("EcPublicKeyTypeX962Hybrid", 0x00000004),
        ],
    ),
    (
        "KeyFormatType",
        &[
            ("Raw", 0x00000001),
            ("Opaque", 0x00000002),
            ("Pkcs1", 0x00000003),
            ("Pkcs8", 0x00000004),
            ("X509", 0x00000005),
            ("EcPrivateKey", 0x00000006),
            ("TransparentSymmetricKey", 0x00000007),
            ("TransparentDsaPrivateKey", 0x00000008),
            ("TransparentDsaPublicKey", 0x00000009),
            ("TransparentRsaPrivateKey", 0x0000000A),
            ("TransparentRsaPublicKey", 0x0000000B),
            ("TransparentDhPrivateKey", 0x0000000C),
            ("TransparentDhPublicKey", 0x0000000D),
            ("TransparentEcdsaPrivateKey", 0x0000000E),
            ("TransparentEcdsaPublicKey", 0x0000000F),
            ("TransparentEcdhPrivateKey", 0x00000010),
            ("TransparentEcdhPublicKey", 0x00000011),
            ("TransparentEcmqvPrivateKey", 0x00000012),
            ("TransparentEcmqvPublicKey", 0x00000013),
            ("TransparentEcPrivateKey", 0x00000014),
            ("TransparentEcPublicKey", 0x00000015),
            ("Pkcs12", 0x00000016),
        ],
    ),
    (
        "KeyRoleType",
        &[
            ("Bdk", 0x00000001),
            ("Cvk", 0x00000002),
            ("Dek", 0x00000003),
            ("Mkac", 0x00000004),
            ("Mksmc", 0x00000005),
            ("Mksmi", 0x00000006),
            ("Mkdac", 0x00000007),
            ("Mkdn", 0x00000008),
            ("Mkcp", 0x00000009),
            ("Mkoth", 0x0000000A),
            ("Kek", 0x0000000B),
            ("Mac16609", 0x0000000C),
            ("Mac97971", 0x0000000D),
            ("Mac97972", 0x0000000E),
            ("Mac97973", 0x0000000F),
            ("Mac97974", 0x00000010),
            ("Mac97975", 0x00000011),
            ("Zpk", 0x00000012),
            ("Pvkibm", 0x00000013),
            ("Pvkpvv", 0x00000014),
            ("Pvkoth", 0x00000015),
            ("Dukpt", 0x00000016),
            ("Iv", 0x00000017),
            ("Trkbk", 0x00000018),
        ],
    ),
    (
        "KeyValueLocationType",
        &[("UninterpretedTextString", 0x00000001), ("Uri", 0x00000002)],
    ),
    (
        "KeyWrapType",
        &[("NotWrapped", 0x00000001), ("AsRegistered", 0x00000002)],
    ),
    (
        "LinkType",
        &[
            ("CertificateLink", 0x00000101),
            ("PublicKeyLink", 0x00000102),
            ("PrivateKeyLink", 0x00000103),
            ("DerivationBaseObjectLink", 0x00000104),
            ("DerivedKeyLink", 0x00000105),
            ("ReplacementObjectLink", 0x00000106),
            ("ReplacedObjectLink", 0x00000107),
            ("ParentLink", 0x00000108),
            ("ChildLink", 0x00000109),
            ("PreviousLink", 0x0000010A),
            ("NextLink", 0x0000010B),
            ("Pkcs12CertificateLink", 0x0000010C),
            ("Pkcs12PasswordLink", 0x0000010D),
            ("WrappingKeyLink", 0x0000010E),
        ],
    ),
    ("MaskGenerator", &[("Mgf1", 0x00000001)]),
    (
        "NameType",
        &[("UninterpretedTextString", 0x00000001), ("Uri", 0x00000002)],
    ),
    (
        "NISTKeyType",
        &[
            ("PrivateSignatureKey", 0x00000001),
            ("PublicSignatureVerificationKey", 0x00000002),
            ("SymmetricAuthenticationKey", 0x00000003),
            ("PrivateAuthenticationKey", 0x00000004),
            ("PublicAuthenticationKey", 0x00000005),
            ("SymmetricDataEncryptionKey", 0x00000006),
            ("SymmetricKeyWrappingKey", 0x00000007),
            ("SymmetricRandomNumberGenerationKey", 0x00000008),
            ("SymmetricMasterKey", 0x00000009),
            ("PrivateKeyTransportKey", 0x0000000A),
            ("PublicKeyTransportKey", 0x0000000B),
            ("SymmetricKeyAgreementKey", 0x0000000C),
            ("PrivateStaticKeyAgreementKey", 0x0000000D),
            ("PublicStaticKeyAgreementKey", 0x0000000E),
            ("PrivateEphemeralKeyAgreementKey", 0x0000000F),
            ("PublicEphemeralKeyAgreementKey", 0x00000010),
            ("SymmetricAuthorizationKey", 0x00000011),
            ("PrivateAuthorizationKey", 0x00000012),
            ("PublicAuthorizationKey", 0x00000013),
        ],
    ),
    (
        "ObjectGroupMember",
        &[
            ("GroupMemberFresh", 0x00000001),
            ("GroupMemberDefault", 0x00000002),
        ],
    ),
    (
        "ObjectType",
        &[
            ("Certificate", 0x00000001),
            ("SymmetricKey", 0x00000002),
            ("PublicKey", 0x00000003),
            ("PrivateKey", 0x00000004),
            ("SplitKey", 0x00000005),
            ("Template", 0x00000006),
            ("SecretData", 0x00000007),
            ("OpaqueData", 0x00000008),
            ("PgpKey", 0x00000009),
            ("CertificateRequest", 0x0000000A),
        ],
    ),
    ("OpaqueDataType", &[("None", 0x80000000)]),
    (
        "Operation",
        &[
            ("Create", 0x00000001),
            ("CreateKeyPair", 0x00000002),
            ("Register", 0x00000003),
            ("Rekey", 0x00000004),
            ("DeriveKey", 0x00000005),
            ("Certify", 0x00000006),
            ("Recertify", 0x00000007),
            ("Locate", 0x00000008),
            ("Check", 0x00000009),
            ("Get", 0x0000000A),
            ("GetAttributes", 0x0000000B),
            ("GetAttributeList", 0x0000000C),
            ("AddAttribute", 0x0000000D),
            ("ModifyAttribute", 0x0000000E),
            ("DeleteAttribute", 0x0000000F),
            ("ObtainLease", 0x00000010),
            ("GetUsageAllocation", 0x00000011),
            ("Activate", 0x00000012),
            ("Revoke", 0x00000013),
            ("Destroy", 0x00000014),
            ("Archive", 0x00000015),
            ("Recover", 0x00000016),
            ("Validate", 0x00000017),
            ("Query", 0x00000018),
            ("Cancel", 0x00000019),
            ("Poll", 0x0000001A),
            ("Notify", 0x0000001B),
            ("Put", 0x0000001C),
            ("RekeyKeyPair", 0x0000001D),
            ("DiscoverVersions", 0x0000001E),
            ("Encrypt", 0x0000001F),
            ("Decrypt", 0x00000020),
            ("Sign", 0x00000021),
            ("SignatureVerify", 0x00000022),
            ("Mac", 0x00000023),
            ("MacVerify", 0x00000024),
            ("RngRetrieve", 0x00000025),
            ("RngSeed", 0x00000026),
            ("Hash", 0x00000027),
            ("CreateSplitKey", 0x00000028),
            ("JoinSplitKey", 0x00000029),
            ("Import", 0x0000002A),
            ("Export", 0x0000002B),
            ("Log", 0x0000002C),
            ("Login", 0x0000002D),
            ("Logout", 0x0000002E),
            ("DelegatedLogin", 0x0000002F),
            ("AdjustAttribute", 0x00000030),
            ("SetAttribute", 0x00000031),
            ("SetEndpointRole", 0x00000032),
            ("Pkcs11", 0x00000033),
            ("Interop", 0x00000034),
            ("Reprovision", 0x00000035),
        ],
    ),
    (
        "PaddingMethod",
        &[
            ("None", 0x00000001),
            ("Oaep", 0x00000002),
            ("Pkcs5", 0x00000003),
            ("Ssl3", 0x00000004),
            ("Zeros", 0x00000005),
            ("AnsiX923", 0x00000006),
            ("Iso10126", 0x00000007),
            ("X931", 0x00000009),
            ("Pss", 0x0000000A),
        ],
    ),
    (
        "ProfileName",
        &[
            ("CompleteServerBasic", 0x00000104),
            ("TapeLibraryClient", 0x00000106),
            ("TapeLibraryServer", 0x00000107),
            ("SymmetricKeyLifecycleClient", 0x00000108),
            ("SymmetricKeyLifecycleServer", 0x00000109),
            ("AsymmetricKeyLifecycleClient", 0x0000010A),
            ("AsymmetricKeyLifecycleServer", 0x0000010B),
            ("BasicCryptographicClient", 0x0000010C),
            ("BasicCryptographicServer", 0x0000010D),
            ("AdvancedCryptographicClient", 0x0000010E),
            ("AdvancedCryptographicServer", 0x0000010F),
            ("RngCryptographicClient", 0x00000110),
            ("RngCryptographicServer", 0x00000111),
            ("BasicSymmetricKeyFoundryClient", 0x00000112),
            ("IntermediateSymmetricKeyFoundryClient", 0x00000113),
            ("AdvancedSymmetricKeyFoundryClient", 0x00000114),
            ("SymmetricKeyFoundryServer", 0x00000115),
            ("OpaqueManagedObjectStoreClient", 0x00000116),
            ("OpaqueManagedObjectStoreServer", 0x00000117),
            ("SuiteBMinlos128Client", 0x00000118),
            ("SuiteBMinlos128Server", 0x00000119),
            ("SuiteBMinlos192Client", 0x0000011A),
            ("SuiteBMinlos192Server", 0x0000011B),
            ("StorageArrayWithSelfEncryptingDriveClient", 0x0000011C),
            ("StorageArrayWithSelfEncryptingDriveServer", 0x0000011D),
            ("HttpsClient", 0x0000011E),
            ("HttpsServer", 0x0000011F),
            ("JsonClient", 0x00000120),
            ("JsonServer", 0x00000121),
            ("XmlClient", 0x00000122),
            ("XmlServer", 0x00000123),
            ("AesXtsClient", 0x00000124),
            ("AesXtsServer", 0x00000125),
            ("QuantumSafeClient", 0x00000126),
            ("QuantumSafeServer", 0x00000127),
            ("Pkcs11Client", 0x00000128),
            ("Pkcs11Server", 0x00000129),
            ("BaselineClient", 0x0000012A),
            ("BaselineServer", 0x0000012B),
            ("CompleteServer", 0x0000012C),
        ],
    ),
    (
        "ProtectionLevel",
        &[("High", 0x00000001), ("Low", 0x00000002)],
    ),
    (
        "ProtectionStorageMask",
        &[
            ("Software", 0x00000001),
            ("Hardware", 0x00000002),
            ("OnProcessor", 0x00000004),
            ("OnSystem", 0x00000008),
            ("OffSystem", 0x00000010),
            ("Hypervisor", 0x00000020),
            ("OperatingSystem", 0x00000040),
            ("Container", 0x00000080),
            ("OnPremises", 0x00000100),
            ("OffPremises", 0x00000200),
            ("SelfManaged", 0x00000400),
            ("Outsourced", 0x00000800),
            ("Validated", 0x00001000),
            ("SameJurisdiction", 0x00002000),
        ],
    ),
    (
        "PutFunction",
        &[("New", 0x00000001), ("Replace", 0x00000002)],
    ),
    (
        "QueryFunction",
        &[
            ("QueryOperations", 0x00000001),
            ("QueryObjects", 0x00000002),
            ("QueryServerInformation", 0x00000003),
            ("QueryApplicationNamespaces", 0x00000004),
            ("QueryExtensionList", 0x00000005),
            ("QueryExtensionMap", 0x00000006),
            ("QueryAttestationTypes", 0x00000007),
            ("QueryRngs", 0x00000008),
            ("QueryValidations", 0x00000009),
            ("QueryProfiles", 0x0000000A),
            ("QueryCapabilities", 0x0000000B),
            ("QueryClientRegistrationMethods", 0x0000000C),
            ("QueryDefaultsInformation", 0x0000000D),
            ("QueryStorageProtectionMasks", 0x0000000E),
        ],
    ),
    (
        "RecommendedCurve",
        &[
            ("P192", 0x00000001),
            ("K163", 0x00000002),
            ("B163", 0x00000003),
            ("P224", 0x00000004),
            ("K233", 0x00000005),
            ("B233", 0x00000006),
            ("P256", 0x00000007),
            ("K283", 0x00000008),
            ("B283", 0x00000009),
            ("P384", 0x0000000A),
            ("K409", 0x0000000B),
            ("B409", 0x0000000C),
            ("P521", 0x0000000D),
            ("K571", 0x0000000E),
            ("B571", 0x0000000F),
            ("Secp112r1", 0x00000010),
            ("Secp112r2", 0x00000011),
            ("Secp128r1", 0x00000012),
            ("Secp128r2", 0x00000013),
            ("Secp160k1", 0x00000014),
            ("Secp160r1", 0x00000015),
            ("Secp160r2", 0x00000016),
            ("Secp191k1", 0x00000017),
            ("Secp224k1", 0x00000018),
            ("Secp256k1", 0x00000019),
            ("Sect113r1", 0x0000001A),
            ("Sect113r2", 0x0000001B),
            ("Sect131r1", 0x0000001C),
            ("Sect131r2", 0x0000001D),
            ("Sect163r1", 0x0000001E),
            ("Sect193r1", 0x0000001F),
            ("Sect193r2", 0x00000020),
            ("Sect239k1", 0x00000021),
            ("Ansix9p192v2", 0x00000022),
            ("Ansix9p192v3", 0x00000023),
            ("Ansix9p239v1", 0x00000024),
            ("Ansix9p239v2", 0x00000025),
            ("Ansix9p239v3", 0x00000026),
            ("Ansix9c2pnb163v1", 0x00000027),
            ("Ansix9c2pnb163v2", 0x00000028),
            ("Ansix9c2pnb163v3", 0x00000029),
            ("Ansix9c2pnb176v1", 0x0000002A),
            ("Ansix9c2tnb191v1", 0x0000002B),
            ("Ansix9c2tnb191v2", 0x0000002C),
            ("Ansix9c2tnb191v3", 0x0000002D),
            ("Ansix9c2pnb208w1", 0x0000002E),
            ("Ansix9c2tnb239v1", 0x0000002F),
            ("Ansix9c2tnb239v2", 0x00000030),
            ("Ansix9c2tnb239v3", 0x00000031),
            ("Ansix9c2pnb272w1", 0x00000032),
            ("Ansix9c2pnb304w1", 0x00000033),
            ("Ansix9c2tnb359v1", 0x00000034),
            ("Ansix9c2pnb368w1", 0x00000035),
            ("Ansix9c2tnb431r1", 0x00000036),
            ("Brainpoolp160r1", 0x00000037),
            ("Brainpoolp160t1", 0x00000038),
            ("Brainpoolp192r1", 0x00000039),
            ("Brainpoolp192t1", 0x0000003A),
            ("Brainpoolp224r1", 0x0000003B),
            ("Brainpoolp224t1", 0x0000003C),
            ("Brainpoolp256r1", 0x0000003D),
            ("Brainpoolp256t1", 0x0000003E),
            ("Brainpoolp320r1", 0x0000003F),
            ("Brainpoolp320t1", 0x00000040),
            ("Brainpoolp384r1", 0x00000041),
            ("Brainpoolp384t1", 0x00000042),
            ("Brainpoolp512r1", 0x00000043),
            ("Brainpoolp512t1", 0x00000044),
            ("Curve25519", 0x00000045),
            ("Curve448", 0x00000046),
        ],
    ),
    (
        "ResultReason",
        &[
            ("ItemNotFound", 0x00000001),
            ("ResponseTooLarge", 0x00000002),
            ("AuthenticationNotSuccessful", 0x00000003),
            ("InvalidMessage", 0x00000004),
            ("OperationNotSupported", 0x00000005),
            ("MissingData", 0x00000006),
            ("InvalidField", 0x00000007),
            ("FeatureNotSupported", 0x00000008),
            ("OperationCanceledByRequester", 0x00000009),
            ("CryptographicFailure", 0x0000000A),
            ("IllegalOperation", 0x0000000B),
            ("PermissionDenied", 0x0000000C),
            ("ObjectArchived", 0x0000000D),
            ("IndexOutOfBounds", 0x0000000E),
            ("ApplicationNamespaceNotSupported", 0x0000000F),
            ("KeyFormatTypeNotSupported", 0x00000010),
            ("KeyCompressionTypeNotSupported", 0x00000011),
            ("EncodingOptionError", 0x00000012),
            ("KeyValueNotPresent", 0x00000013),
            ("AttestationRequired", 0x00000014),
            ("AttestationFailed", 0x00000015),
            ("Sensitive", 0x00000016),
            ("NotExtractable", 0x00000017),
            ("ObjectAlreadyExists", 0x00000018),
            ("GeneralFailure", 0x00000100),
            ("InvalidTicket", 0x00000019),
            ("UsageLimitExceeded", 0x0000001A),
            ("NumericRange", 0x0000001B),
            ("InvalidDataType", 0x0000001C),
            ("ReadOnlyAttribute", 0x0000001D),
            ("MultiValuedAttribute", 0x0000001E),
            ("UnsupportedAttribute", 0x0000001F),
            ("AttributeInstanceNotFound", 0x00000020),
            ("AttributeNotFound", 0x00000021),
            ("AttributeReadOnly", 0x00000022),
            ("AttributeSingleValued", 0x00000023),
            ("BadCryptographicParameters", 0x00000024),
            ("BadPassword", 0x00000025),
            ("CodecError", 0x00000026),
            ("IllegalObjectType", 0x00000028),
            ("IncompatibleCryptographicUsageMask", 0x00000029),
            ("InternalServerError", 0x0000002A),
            ("InvalidAsynchronousCorrelationValue", 0x0000002B),
            ("InvalidAttribute", 0x0000002C),
            ("InvalidAttributeValue", 0x0000002D),
            ("InvalidCorrelationValue", 0x0000002E),
            ("InvalidCsr", 0x0000002F),
            ("InvalidObjectType", 0x00000030),
            ("KeyWrapTypeNotSupported", 0x00000032),
            ("MissingInitializationVector", 0x00000034),
            ("NonUniqueNameAttribute", 0x00000035),
            ("ObjectDestroyed", 0x00000036),
            ("ObjectNotFound", 0x00000037),
            ("NotAuthorised", 0x00000039),
            ("ServerLimitExceeded", 0x0000003A),
            ("UnknownEnumeration", 0x0000003B),
            ("UnknownMessageExtension", 0x0000003C),
            ("UnknownTag", 0x0000003D),
            ("UnsupportedCryptographicParameters", 0x0000003E),
            ("UnsupportedProtocolVersion", 0x0000003F),
            ("WrappingObjectArchived", 0x00000040),
            ("WrappingObjectDestroyed", 0x00000041),
            ("WrappingObjectNotFound", 0x00000042),
            ("WrongKeyLifecycleState", 0x00000043),
            ("ProtectionStorageUnavailable", 0x00000044),
            ("Pkcs11CodecError", 0x00000045),
            ("Pkcs11InvalidFunction", 0x00000046),
            ("Pkcs11InvalidInterface", 0x00000047),
        ],
    ),
    (
        "ResultStatus",
        &[
            ("Success", 0x00000000),
            ("OperationFailed", 0x00000001),
            ("OperationPending", 0x00000002),
            ("OperationUndone", 0x00000003),
        ],
    ),
    (
        "RevocationReasonCode",
        &[
            ("Unspecified", 0x00000001),
            ("KeyCompromise", 0x00000002),
            ("CaCompromise", 0x00000003),
            ("AffiliationChanged", 0x00000004),
            ("Superseded", 0x00000005),
            ("CessationOfOperation", 0x00000006),
            ("PrivilegeWithdrawn", 0x00000007),
        ],
    ),
    (
        "RNGAlgorithm",
        &[
            ("Unspecified", 0x00000001),
            ("Fips1862", 0x00000002),
            ("Drbg", 0x00000003),
            ("Nrbg", 0x00000004),
            ("AnsiX931", 0x00000005),
            ("AnsiX962", 0x00000006),
        ],
    ),
    (
        "RNGMode",
        &[
            ("Unspecified", 0x00000001),
            ("SharedInstantiation", 0x00000002),
            ("NonSharedInstantiation", 0x00000003),
        ],
    ),
    (
        "SecretDataType",
        &[("Password", 0x00000001), ("Seed", 0x00000002)],
    ),
    (
        "ShreddingAlgorithm",
        &[
            ("Unspecified", 0x00000001),
            ("Cryptographic", 0x00000002),
            ("Unsupported", 0x00000003),
        ],
    ),
    (
        "SplitKeyMethod",
        &[
            ("Xor", 0x00000001),
            ("PolynomialSharingGf216", 0x00000002),
            ("PolynomialSharingPrimeField", 0x00000003),
            ("PolynomialSharingGf28", 0x00000004),
        ],
    ),
    (
        "State",
        &[
            ("PreActive", 0x00000001),
            ("Active", 0x00000002),
            ("Deactivated", 0x00000003),
            ("Compromised", 0x00000004),
            ("Destroyed", 0x00000005),
            ("DestroyedCompromised", 0x00000006),
        ],
    ),
    (
        "StorageStatusMask",
        &[
            ("OnlineStorage", 0x00000001),
            ("ArchivalStorage", 0x00000002),
            ("DestroyedStorage", 0x00000004),
        ],
    ),
    ("TicketType", &[("Login", 0x00000001)]),
    (
        "UniqueIdentifier",
        &[
            ("IdPlaceholder", 0x00000001),
            ("Certify", 0x00000002),
            ("Create", 0x00000003),
            ("CreateKeyPair", 0x00000004),
            ("CreateKeyPairPrivateKey", 0x00000005),
            ("CreateKeyPairPublicKey", 0x00000006),
            ("CreateSplitKey", 0x00000007),
            ("DeriveKey", 0x00000008),
            ("Import", 0x00000009),
            ("JoinSplitKey", 0x0000000A),
            ("Locate", 0x0000000B),
            ("Register", 0x0000000C),
            ("Rekey", 0x0000000D),
            ("Recertify", 0x0000000E),
            ("RekeyKeyPair", 0x0000000F),
            ("RekeyKeyPairPrivateKey", 0x00000010),
            ("RekeyKeyPairPublicKey", 0x00000011),
        ],
    ),
    (
        "UnwrapMode",
        &[
            ("Unspecified", 0x00000001),
            ("Processed", 0x00000002),
            ("NotProcessed", 0x00000003),
        ],
    ),
    (
        "UsageLimitsUnit",
        &[("Byte", 0x00000001), ("Object", 0x00000002)],
    ),
    (
        "ValidationAuthorityType",
        &[
            ("Unspecified", 0x00000001),
            ("NistCmvp", 0x00000002),
            ("CommonCriteria", 0x00000003),
        ],
    ),
    (
        "ValidationType",
        &[
            ("Unspecified", 0x00000001),
            ("Hardware", 0x00000002),
            ("Software", 0x00000003),
            ("Firmware", 0x00000004),
            ("Hybrid", 0x00000005),
        ],
    ),
    (
        "ValidityIndicator",
        &[
            ("Valid", 0x00000001),
            ("Invalid", 0x00000002),
            ("Unknown", 0x00000003),
        ],
    ),
    (
        "WrappingMethod",
        &[
            ("Encrypt", 0x00000001),
            ("MacSign", 0x00000002),
            ("EncryptThenMacSign", 0x00000003),
            ("MacSignThenEncrypt", 0x00000004),
            ("Tr31", 0x00000005),
        ],
    ),
];
