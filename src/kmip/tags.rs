//! KMIP tag values, from the tag tables of the KMIP 1.0–2.1 specifications.
//! Generated once from those tables; names are the specification's, in CamelCase.
#![allow(missing_docs)]

pub const ACTIVATION_DATE: u32 = 0x420001;
pub const APPLICATION_DATA: u32 = 0x420002;
pub const APPLICATION_NAMESPACE: u32 = 0x420003;
pub const APPLICATION_SPECIFIC_INFORMATION: u32 = 0x420004;
pub const ARCHIVE_DATE: u32 = 0x420005;
pub const ASYNCHRONOUS_CORRELATION_VALUE: u32 = 0x420006;
pub const ASYNCHRONOUS_INDICATOR: u32 = 0x420007;
pub const ATTRIBUTE: u32 = 0x420008;
pub const ATTRIBUTE_INDEX: u32 = 0x420009;
pub const ATTRIBUTE_NAME: u32 = 0x42000A;
pub const ATTRIBUTE_VALUE: u32 = 0x42000B;
pub const AUTHENTICATION: u32 = 0x42000C;
pub const BATCH_COUNT: u32 = 0x42000D;
pub const BATCH_ERROR_CONTINUATION_OPTION: u32 = 0x42000E;
pub const BATCH_ITEM: u32 = 0x42000F;
pub const BATCH_ORDER_OPTION: u32 = 0x420010;
pub const BLOCK_CIPHER_MODE: u32 = 0x420011;
pub const CANCELLATION_RESULT: u32 = 0x420012;
pub const CERTIFICATE: u32 = 0x420013;
pub const CERTIFICATE_IDENTIFIER: u32 = 0x420014;
pub const CERTIFICATE_ISSUER: u32 = 0x420015;
pub const CERTIFICATE_ISSUER_ALTERNATIVE_NAME: u32 = 0x420016;
pub const CERTIFICATE_ISSUER_DISTINGUISHED_NAME: u32 = 0x420017;
pub const CERTIFICATE_REQUEST: u32 = 0x420018;
pub const CERTIFICATE_REQUEST_TYPE: u32 = 0x420019;
pub const CERTIFICATE_SUBJECT: u32 = 0x42001A;
pub const CERTIFICATE_SUBJECT_ALTERNATIVE_NAME: u32 = 0x42001B;
pub const CERTIFICATE_SUBJECT_DISTINGUISHED_NAME: u32 = 0x42001C;
pub const CERTIFICATE_TYPE: u32 = 0x42001D;
pub const CERTIFICATE_VALUE: u32 = 0x42001E;
pub const COMMON_TEMPLATE_ATTRIBUTE: u32 = 0x42001F;
pub const COMPROMISE_DATE: u32 = 0x420020;
pub const COMPROMISE_OCCURRENCE_DATE: u32 = 0x420021;
pub const CONTACT_INFORMATION: u32 = 0x420022;
pub const CREDENTIAL: u32 = 0x420023;
pub const CREDENTIAL_TYPE: u32 = 0x420024;
pub const CREDENTIAL_VALUE: u32 = 0x420025;
pub const CRITICALITY_INDICATOR: u32 = 0x420026;
pub const CRT_COEFFICIENT: u32 = 0x420027;
pub const CRYPTOGRAPHIC_ALGORITHM: u32 = 0x420028;
pub const CRYPTOGRAPHIC_DOMAIN_PARAMETERS: u32 = 0x420029;
pub const CRYPTOGRAPHIC_LENGTH: u32 = 0x42002A;
pub const CRYPTOGRAPHIC_PARAMETERS: u32 = 0x42002B;
pub const CRYPTOGRAPHIC_USAGE_MASK: u32 = 0x42002C;
pub const CUSTOM_ATTRIBUTE: u32 = 0x42002D;
pub const D: u32 = 0x42002E;
pub const DEACTIVATION_DATE: u32 = 0x42002F;
pub const DERIVATION_DATA: u32 = 0x420030;
pub const DERIVATION_METHOD: u32 = 0x420031;
pub const DERIVATION_PARAMETERS: u32 = 0x420032;
pub const DESTROY_DATE: u32 = 0x420033;
pub const DIGEST: u32 = 0x420034;
pub const DIGEST_VALUE: u32 = 0x420035;
pub const ENCRYPTION_KEY_INFORMATION: u32 = 0x420036;
pub const G: u32 = 0x420037;
pub const HASHING_ALGORITHM: u32 = 0x420038;
pub const INITIAL_DATE: u32 = 0x420039;
pub const INITIALIZATION_VECTOR: u32 = 0x42003A;
pub const ISSUER: u32 = 0x42003B;
pub const ITERATION_COUNT: u32 = 0x42003C;
pub const IV_COUNTER_NONCE: u32 = 0x42003D;
pub const J: u32 = 0x42003E;
pub const KEY: u32 = 0x42003F;
pub const KEY_BLOCK: u32 = 0x420040;
pub const KEY_COMPRESSION_TYPE: u32 = 0x420041;
pub const KEY_FORMAT_TYPE: u32 = 0x420042;
pub const KEY_MATERIAL: u32 = 0x420043;
pub const KEY_PART_IDENTIFIER: u32 = 0x420044;
pub const KEY_VALUE: u32 = 0x420045;
pub const KEY_WRAPPING_DATA: u32 = 0x420046;
pub const KEY_WRAPPING_SPECIFICATION: u32 = 0x420047;
pub const LAST_CHANGE_DATE: u32 = 0x420048;
pub const LEASE_TIME: u32 = 0x420049;
pub const LINK: u32 = 0x42004A;
pub const LINK_TYPE: u32 = 0x42004B;
pub const LINKED_OBJECT_IDENTIFIER: u32 = 0x42004C;
pub const MAC_SIGNATURE: u32 = 0x42004D;
pub const MAC_SIGNATURE_KEY_INFORMATION: u32 = 0x42004E;
pub const MAXIMUM_ITEMS: u32 = 0x42004F;
pub const MAXIMUM_RESPONSE_SIZE: u32 = 0x420050;
pub const MESSAGE_EXTENSION: u32 = 0x420051;
pub const MODULUS: u32 = 0x420052;
pub const NAME: u32 = 0x420053;
pub const NAME_TYPE: u32 = 0x420054;
pub const NAME_VALUE: u32 = 0x420055;
pub const OBJECT_GROUP: u32 = 0x420056;
pub const OBJECT_TYPE: u32 = 0x420057;
pub const OFFSET: u32 = 0x420058;
pub const OPAQUE_DATA_TYPE: u32 = 0x420059;
pub const OPAQUE_DATA_VALUE: u32 = 0x42005A;
pub const OPAQUE_OBJECT: u32 = 0x42005B;
pub const OPERATION: u32 = 0x42005C;
pub const OPERATION_POLICY_NAME: u32 = 0x42005D;
pub const P: u32 = 0x42005E;
pub const PADDING_METHOD: u32 = 0x42005F;
pub const PRIME_EXPONENT_P: u32 = 0x420060;
pub const PRIME_EXPONENT_Q: u32 = 0x420061;
pub const PRIME_FIELD_SIZE: u32 = 0x420062;
pub const PRIVATE_EXPONENT: u32 = 0x420063;
pub const PRIVATE_KEY: u32 = 0x420064;
pub const PRIVATE_KEY_TEMPLATE_ATTRIBUTE: u32 = 0x420065;
pub const PRIVATE_KEY_UNIQUE_IDENTIFIER: u32 = 0x420066;
pub const PROCESS_START_DATE: u32 = 0x420067;
pub const PROTECT_STOP_DATE: u32 = 0x420068;
pub const PROTOCOL_VERSION: u32 = 0x420069;
pub const PROTOCOL_VERSION_MAJOR: u32 = 0x42006A;
pub const PROTOCOL_VERSION_MINOR: u32 = 0x42006B;
pub const PUBLIC_EXPONENT: u32 = 0x42006C;
pub const PUBLIC_KEY: u32 = 0x42006D;
pub const PUBLIC_KEY_TEMPLATE_ATTRIBUTE: u32 = 0x42006E;
pub const PUBLIC_KEY_UNIQUE_IDENTIFIER: u32 = 0x42006F;
pub const PUT_FUNCTION: u32 = 0x420070;
pub const Q: u32 = 0x420071;
pub const Q_STRING: u32 = 0x420072;
pub const QLENGTH: u32 = 0x420073;
pub const QUERY_FUNCTION: u32 = 0x420074;
pub const RECOMMENDED_CURVE: u32 = 0x420075;
pub const REPLACED_UNIQUE_IDENTIFIER: u32 = 0x420076;
pub const REQUEST_BATCH_ITEM: u32 = 0x42000F;
pub const REQUEST_HEADER: u32 = 0x420077;
pub const REQUEST_MESSAGE: u32 = 0x420078;
pub const REQUEST_PAYLOAD: u32 = 0x420079;
pub const RESPONSE_BATCH_ITEM: u32 = 0x42000F;
pub const RESPONSE_HEADER: u32 = 0x42007A;
pub const RESPONSE_MESSAGE: u32 = 0x42007B;
pub const RESPONSE_PAYLOAD: u32 = 0x42007C;
pub const RESULT_MESSAGE: u32 = 0x42007D;
pub const RESULT_REASON: u32 = 0x42007E;
pub const RESULT_STATUS: u32 = 0x42007F;
pub const REVOCATION_MESSAGE: u32 = 0x420080;
pub const REVOCATION_REASON: u32 = 0x420081;
pub const REVOCATION_REASON_CODE: u32 = 0x420082;
pub const KEY_ROLE_TYPE: u32 = 0x420083;
pub const SALT: u32 = 0x420084;
pub const SECRET_DATA: u32 = 0x420085;
pub const SECRET_DATA_TYPE: u32 = 0x420086;
pub const SERIAL_NUMBER: u32 = 0x420087;
pub const SERVER_INFORMATION: u32 = 0x420088;
pub const SPLIT_KEY: u32 = 0x420089;
pub const SPLIT_KEY_METHOD: u32 = 0x42008A;
pub const SPLIT_KEY_PARTS: u32 = 0x42008B;
pub const SPLIT_KEY_THRESHOLD: u32 = 0x42008C;
pub const STATE: u32 = 0x42008D;
pub const STORAGE_STATUS_MASK: u32 = 0x42008E;
pub const SYMMETRIC_KEY: u32 = 0x42008F;
pub const TEMPLATE: u32 = 0x420090;
pub const TEMPLATE_ATTRIBUTE: u32 = 0x420091;
pub const TIME_STAMP: u32 = 0x420092;
pub const UNIQUE_BATCH_ITEM_ID: u32 = 0x420093;
pub const UNIQUE_IDENTIFIER: u32 = 0x420094;
pub const USAGE_LIMITS: u32 = 0x420095;
pub const USAGE_LIMITS_COUNT: u32 = 0x420096;
pub const USAGE_LIMITS_TOTAL: u32 = 0x420097;
pub const USAGE_LIMITS_UNIT: u32 = 0x420098;
pub const USERNAME: u32 = 0x420099;
pub const VALIDITY_DATE: u32 = 0x42009A;
pub const VALIDITY_INDICATOR: u32 = 0x42009B;
pub const VENDOR_EXTENSION: u32 = 0x42009C;
pub const VENDOR_IDENTIFICATION: u32 = 0x42009D;
pub const WRAPPING_METHOD: u32 = 0x42009E;
pub const X: u32 = 0x42009F;
pub const Y: u32 = 0x4200A0;
pub const PASSWORD: u32 = 0x4200A1;
pub const DEVICE_IDENTIFIER: u32 = 0x4200A2;
pub const ENCODING_OPTION: u32 = 0x4200A3;
pub const EXTENSION_INFORMATION: u32 = 0x4200A4;
pub const EXTENSION_NAME: u32 = 0x4200A5;
pub const EXTENSION_TAG: u32 = 0x4200A6;
pub const EXTENSION_TYPE: u32 = 0x4200A7;
pub const FRESH: u32 = 0x4200A8;
pub const MACHINE_IDENTIFIER: u32 = 0x4200A9;
pub const MEDIA_IDENTIFIER: u32 = 0x4200AA;
pub const NETWORK_IDENTIFIER: u32 = 0x4200AB;
pub const OBJECT_GROUP_MEMBER: u32 = 0x4200AC;
pub const CERTIFICATE_LENGTH: u32 = 0x4200AD;
pub const DIGITAL_SIGNATURE_ALGORITHM: u32 = 0x4200AE;
pub const CERTIFICATE_SERIAL_NUMBER: u32 = 0x4200AF;
pub const DEVICE_SERIAL_NUMBER: u32 = 0x4200B0;
pub const ISSUER_ALTERNATIVE_NAME: u32 = 0x4200B1;
pub const ISSUER_DISTINGUISHED_NAME: u32 = 0x4200B2;
pub const SUBJECT_ALTERNATIVE_NAME: u32 = 0x4200B3;
pub const SUBJECT_DISTINGUISHED_NAME: u32 = 0x4200B4;
pub const X_509_CERTIFICATE_IDENTIFIER: u32 = 0x4200B5;
pub const X_509_CERTIFICATE_ISSUER: u32 = 0x4200B6;
pub const X_509_CERTIFICATE_SUBJECT: u32 = 0x4200B7;
pub const KEY_VALUE_LOCATION: u32 = 0x4200B8;
pub const KEY_VALUE_LOCATION_VALUE: u32 = 0x4200B9;
pub const KEY_VALUE_LOCATION_TYPE: u32 = 0x4200BA;
pub const KEY_VALUE_PRESENT: u32 = 0x4200BB;
pub const ORIGINAL_CREATION_DATE: u32 = 0x4200BC;
pub const PGP_KEY: u32 = 0x4200BD;
pub const PGP_KEY_VERSION: u32 = 0x4200BE;
pub const ALTERNATIVE_NAME: u32 = 0x4200BF;
pub const ALTERNATIVE_NAME_VALUE: u32 = 0x4200C0;
pub const ALTERNATIVE_NAME_TYPE: u32 = 0x4200C1;
pub const DATA: u32 = 0x4200C2;
pub const SIGNATURE_DATA: u32 = 0x4200C3;
pub const DATA_LENGTH: u32 = 0x4200C4;
pub const RANDOM_IV: u32 = 0x4200C5;
pub const MAC_DATA: u32 = 0x4200C6;
pub const ATTESTATION_TYPE: u32 = 0x4200C7;
pub const NONCE: u32 = 0x4200C8;
pub const NONCE_ID: u32 = 0x4200C9;
pub const NONCE_VALUE: u32 = 0x4200CA;
pub const ATTESTATION_MEASUREMENT: u32 = 0x4200CB;
pub const ATTESTATION_ASSERTION: u32 = 0x4200CC;
pub const IV_LENGTH: u32 = 0x4200CD;
pub const TAG_LENGTH: u32 = 0x4200CE;
pub const FIXED_FIELD_LENGTH: u32 = 0x4200CF;
pub const COUNTER_LENGTH: u32 = 0x4200D0;
pub const INITIAL_COUNTER_VALUE: u32 = 0x4200D1;
pub const INVOCATION_FIELD_LENGTH: u32 = 0x4200D2;
pub const ATTESTATION_CAPABLE_INDICATOR: u32 = 0x4200D3;
pub const OFFSET_ITEMS: u32 = 0x4200D4;
pub const LOCATED_ITEMS: u32 = 0x4200D5;
pub const CORRELATION_VALUE: u32 = 0x4200D6;
pub const INIT_INDICATOR: u32 = 0x4200D7;
pub const FINAL_INDICATOR: u32 = 0x4200D8;
pub const RNG_PARAMETERS: u32 = 0x4200D9;
pub const RNG_ALGORITHM: u32 = 0x4200DA;
pub const DRBG_ALGORITHM: u32 = 0x4200DB;
pub const FIPS186_VARIATION: u32 = 0x4200DC;
pub const PREDICTION_RESISTANCE: u32 = 0x4200DD;
pub const RANDOM_NUMBER_GENERATOR: u32 = 0x4200DE;
pub const VALIDATION_INFORMATION: u32 = 0x4200DF;
pub const VALIDATION_AUTHORITY_TYPE: u32 = 0x4200E0;
pub const VALIDATION_AUTHORITY_COUNTRY: u32 = 0x4200E1;
pub const VALIDATION_AUTHORITY_URI: u32 = 0x4200E2;
pub const VALIDATION_VERSION_MAJOR: u32 = 0x4200E3;
pub const VALIDATION_VERSION_MINOR: u32 = 0x4200E4;
pub const VALIDATION_TYPE: u32 = 0x4200E5;
pub const VALIDATION_LEVEL: u32 = 0x4200E6;
pub const VALIDATION_CERTIFICATE_IDENTIFIER: u32 = 0x4200E7;
pub const VALIDATION_CERTIFICATE_URI: u32 = 0x4200E8;
pub const VALIDATION_VENDOR_URI: u32 = 0x4200E9;
pub const VALIDATION_PROFILE: u32 = 0x4200EA;
pub const PROFILE_INFORMATION: u32 = 0x4200EB;
pub const PROFILE_NAME: u32 = 0x4200EC;
pub const SERVER_URI: u32 = 0x4200ED;
pub const SERVER_PORT: u32 = 0x4200EE;
pub const STREAMING_CAPABILITY: u32 = 0x4200EF;
pub const ASYNCHRONOUS_CAPABILITY: u32 = 0x4200F0;
pub const ATTESTATION_CAPABILITY: u32 = 0x4200F1;
pub const UNWRAP_MODE: u32 = 0x4200F2;
pub const DESTROY_ACTION: u32 = 0x4200F3;
pub const SHREDDING_ALGORITHM: u32 = 0x4200F4;
pub const RNG_MODE: u32 = 0x4200F5;
pub const CLIENT_REGISTRATION_METHOD: u32 = 0x4200F6;
pub const CAPABILITY_INFORMATION: u32 = 0x4200F7;
pub const KEY_WRAP_TYPE: u32 = 0x4200F8;
pub const BATCH_UNDO_CAPABILITY: u32 = 0x4200F9;
pub const BATCH_CONTINUE_CAPABILITY: u32 = 0x4200FA;
pub const PKCS12_FRIENDLY_NAME: u32 = 0x4200FB;
pub const DESCRIPTION: u32 = 0x4200FC;
pub const COMMENT: u32 = 0x4200FD;
pub const AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA: u32 = 0x4200FE;
pub const AUTHENTICATED_ENCRYPTION_TAG: u32 = 0x4200FF;
pub const SALT_LENGTH: u32 = 0x420100;
pub const MASK_GENERATOR: u32 = 0x420101;
pub const MASK_GENERATOR_HASHING_ALGORITHM: u32 = 0x420102;
pub const P_SOURCE: u32 = 0x420103;
pub const TRAILER_FIELD: u32 = 0x420104;
pub const CLIENT_CORRELATION_VALUE: u32 = 0x420105;
pub const SERVER_CORRELATION_VALUE: u32 = 0x420106;
pub const DIGESTED_DATA: u32 = 0x420107;
pub const CERTIFICATE_SUBJECT_CN: u32 = 0x420108;
pub const CERTIFICATE_SUBJECT_O: u32 = 0x420109;
pub const CERTIFICATE_SUBJECT_OU: u32 = 0x42010A;
pub const CERTIFICATE_SUBJECT_EMAIL: u32 = 0x42010B;
pub const CERTIFICATE_SUBJECT_C: u32 = 0x42010C;
pub const CERTIFICATE_SUBJECT_ST: u32 = 0x42010D;
pub const CERTIFICATE_SUBJECT_L: u32 = 0x42010E;
pub const CERTIFICATE_SUBJECT_UID: u32 = 0x42010F;
pub const CERTIFICATE_SUBJECT_SERIAL_NUMBER: u32 = 0x420110;
pub const CERTIFICATE_SUBJECT_TITLE: u32 = 0x420111;
pub const CERTIFICATE_SUBJECT_DC: u32 = 0x420112;
pub const CERTIFICATE_SUBJECT_DN_QUALIFIER: u32 = 0x420113;
pub const CERTIFICATE_ISSUER_CN: u32 = 0x420114;
pub const CERTIFICATE_ISSUER_O: u32 = 0x420115;
pub const CERTIFICATE_ISSUER_OU: u32 = 0x420116;
pub const CERTIFICATE_ISSUER_EMAIL: u32 = 0x420117;
pub const CERTIFICATE_ISSUER_C: u32 = 0x420118;
pub const CERTIFICATE_ISSUER_ST: u32 = 0x420119;
pub const CERTIFICATE_ISSUER_L: u32 = 0x42011A;
pub const CERTIFICATE_ISSUER_UID: u32 = 0x42011B;
pub const CERTIFICATE_ISSUER_SERIAL_NUMBER: u32 = 0x42011C;
pub const CERTIFICATE_ISSUER_TITLE: u32 = 0x42011D;
pub const CERTIFICATE_ISSUER_DC: u32 = 0x42011E;
pub const CERTIFICATE_ISSUER_DN_QUALIFIER: u32 = 0x42011F;
pub const SENSITIVE: u32 = 0x420120;
pub const ALWAYS_SENSITIVE: u32 = 0x420121;
pub const EXTRACTABLE: u32 = 0x420122;
pub const NEVER_EXTRACTABLE: u32 = 0x420123;
pub const REPLACE_EXISTING: u32 = 0x420124;
pub const ATTRIBUTES: u32 = 0x420125;
pub const COMMON_ATTRIBUTES: u32 = 0x420126;
pub const PRIVATE_KEY_ATTRIBUTES: u32 = 0x420127;
pub const PUBLIC_KEY_ATTRIBUTES: u32 = 0x420128;
pub const EXTENSION_ENUMERATION: u32 = 0x420129;
pub const EXTENSION_ATTRIBUTE: u32 = 0x42012A;
pub const EXTENSION_PARENT_STRUCTURE_TAG: u32 = 0x42012B;
pub const EXTENSION_DESCRIPTION: u32 = 0x42012C;
pub const SERVER_NAME: u32 = 0x42012D;
pub const SERVER_SERIAL_NUMBER: u32 = 0x42012E;
pub const SERVER_VERSION: u32 = 0x42012F;
pub const SERVER_LOAD: u32 = 0x420130;
pub const PRODUCT_NAME: u32 = 0x420131;
pub const BUILD_LEVEL: u32 = 0x420132;
pub const BUILD_DATE: u32 = 0x420133;
pub const CLUSTER_INFO: u32 = 0x420134;
pub const ALTERNATE_FAILOVER_ENDPOINTS: u32 = 0x420135;
pub const SHORT_UNIQUE_IDENTIFIER: u32 = 0x420136;
pub const RESERVED: u32 = 0x420137;
pub const TAG: u32 = 0x420138;
pub const CERTIFICATE_REQUEST_UNIQUE_IDENTIFIER: u32 = 0x420139;
pub const NIST_KEY_TYPE: u32 = 0x42013A;
pub const ATTRIBUTE_REFERENCE: u32 = 0x42013B;
pub const CURRENT_ATTRIBUTE: u32 = 0x42013C;
pub const NEW_ATTRIBUTE: u32 = 0x42013D;
pub const CERTIFICATE_REQUEST_VALUE: u32 = 0x420140;
pub const LOG_MESSAGE: u32 = 0x420141;
pub const PROFILE_VERSION: u32 = 0x420142;
pub const PROFILE_VERSION_MAJOR: u32 = 0x420143;
pub const PROFILE_VERSION_MINOR: u32 = 0x420144;
pub const PROTECTION_LEVEL: u32 = 0x420145;
pub const PROTECTION_PERIOD: u32 = 0x420146;
pub const QUANTUM_SAFE: u32 = 0x420147;
pub const QUANTUM_SAFE_CAPABILITY: u32 = 0x420148;
pub const TICKET: u32 = 0x420149;
pub const TICKET_TYPE: u32 = 0x42014A;
pub const TICKET_VALUE: u32 = 0x42014B;
pub const REQUEST_COUNT: u32 = 0x42014C;
pub const RIGHTS: u32 = 0x42014D;
pub const OBJECTS: u32 = 0x42014E;
pub const OPERATIONS: u32 = 0x42014F;
pub const RIGHT: u32 = 0x420150;
pub const ENDPOINT_ROLE: u32 = 0x420151;
pub const DEFAULTS_INFORMATION: u32 = 0x420152;
pub const OBJECT_DEFAULTS: u32 = 0x420153;
pub const EPHEMERAL: u32 = 0x420154;
pub const SERVER_HASHED_PASSWORD: u32 = 0x420155;
pub const ONE_TIME_PASSWORD: u32 = 0x420156;
pub const HASHED_PASSWORD: u32 = 0x420157;
pub const ADJUSTMENT_TYPE: u32 = 0x420158;
pub const PKCS11_INTERFACE: u32 = 0x420159;
pub const PKCS11_FUNCTION: u32 = 0x42015A;
pub const PKCS11_INPUT_PARAMETERS: u32 = 0x42015B;
pub const PKCS11_OUTPUT_PARAMETERS: u32 = 0x42015C;
pub const PKCS11_RETURN_CODE: u32 = 0x42015D;
pub const PROTECTION_STORAGE_MASK: u32 = 0x42015E;
pub const PROTECTION_STORAGE_MASKS: u32 = 0x42015F;
pub const INTEROP_FUNCTION: u32 = 0x420160;
pub const INTEROP_IDENTIFIER: u32 = 0x420161;
pub const ADJUSTMENT_VALUE: u32 = 0x420162;
pub const COMMON_PROTECTION_STORAGE_MASKS: u32 = 0x420163;
pub const PRIVATE_PROTECTION_STORAGE_MASKS: u32 = 0x420164;
pub const PUBLIC_PROTECTION_STORAGE_MASKS: u32 = 0x420165;

/// Every known tag with its specification name (CamelCase, no spaces).
pub static TAG_NAMES: &[(u32, &str)] = &[
    (0x420001, "ActivationDate"),
    (0x420002, "ApplicationData"),
    (0x420003, "ApplicationNamespace"),
    (0x420004, "ApplicationSpecificInformation"),
    (0x420005, "ArchiveDate"),
    (0x420006, "AsynchronousCorrelationValue"),
    (0x420007, "AsynchronousIndicator"),
    (0x420008, "Attribute"),
    (0x420009, "AttributeIndex"),
    (0x42000A, "AttributeName"),
    (0x42000B, "AttributeValue"),
    (0x42000C, "Authentication"),
    (0x42000D, "BatchCount"),
    (0x42000E, "BatchErrorContinuationOption"),
    (0x42000F, "BatchItem"),
    (0x420010, "BatchOrderOption"),
    (0x420011, "BlockCipherMode"),
    (0x420012, "CancellationResult"),
    (0x420013, "Certificate"),
    (0x420014, "CertificateIdentifier"),
    (0x420015, "CertificateIssuer"),
    (0x420016, "CertificateIssuerAlternativeName"),
    (0x420017, "CertificateIssuerDistinguishedName"),
    (0x420018, "CertificateRequest"),
    (0x420019, "CertificateRequestType"),
    (0x42001A, "CertificateSubject"),
    (0x42001B, "CertificateSubjectAlternativeName"),
    (0x42001C, "CertificateSubjectDistinguishedName"),
    (0x42001D, "CertificateType"),
    (0x42001E, "CertificateValue"),
    (0x42001F, "CommonTemplateAttribute"),
    (0x420020, "CompromiseDate"),
    (0x420021, "CompromiseOccurrenceDate"),
    (0x420022, "ContactInformation"),
    (0x420023, "Credential"),
    (0x420024, "CredentialType"),
    (0x420025, "CredentialValue"),
    (0x420026, "CriticalityIndicator"),
    (0x420027, "CrtCoefficient"),
    (0x420028, "CryptographicAlgorithm"),
    (0x420029, "CryptographicDomainParameters"),
    (0x42002A, "CryptographicLength"),
    (0x42002B, "CryptographicParameters"),
    (0x42002C, "CryptographicUsageMask"),
    (0x42002D, "CustomAttribute"),
    (0x42002E, "D"),
    (0x42002F, "DeactivationDate"),
    (0x420030, "DerivationData"),
    (0x420031, "DerivationMethod"),
    (0x420032, "DerivationParameters"),
    (0x420033, "DestroyDate"),
    (0x420034, "Digest"),
    (0x420035, "DigestValue"),
    (0x420036, "EncryptionKeyInformation"),
    (0x420037, "G"),
    (0x420038, "HashingAlgorithm"),
    (0x420039, "InitialDate"),
    (0x42003A, "InitializationVector"),
    (0x42003B, "Issuer"),
    (0x42003C, "IterationCount"),
    (0x42003D, "IvCounterNonce"),
    (0x42003E, "J"),
    (0x42003F, "Key"),
    (0x420040, "KeyBlock"),
    (0x420041, "KeyCompressionType"),
    (0x420042, "KeyFormatType"),
    (0x420043, "KeyMaterial"),
    (0x420044, "KeyPartIdentifier"),
    (0x420045, "KeyValue"),
    (0x420046, "KeyWrappingData"),
    (0x420047, "KeyWrappingSpecification"),
    (0x420048, "LastChangeDate"),
    (0x420049, "LeaseTime"),
    (0x42004A, "Link"),
    (0x42004B, "LinkType"),
    (0x42004C, "LinkedObjectIdentifier"),
    (0x42004D, "MacSignature"),
    (0x42004E, "MacSignatureKeyInformation"),
    (0x42004F, "MaximumItems"),
    (0x420050, "MaximumResponseSize"),
    (0x420051, "MessageExtension"),
    (0x420052, "Modulus"),
    (0x420053, "Name"),
    (0x420054, "NameType"),
    (0x420055, "NameValue"),
    (0x420056, "ObjectGroup"),
    (0x420057, "ObjectType"),
    (0x420058, "Offset"),
    (0x420059, "OpaqueDataType"),
    (0x42005A, "OpaqueDataValue"),
    (0x42005B, "OpaqueObject"),
    (0x42005C, "Operation"),
    (0x42005D, "OperationPolicyName"),
    (0x42005E, "P"),
    (0x42005F, "PaddingMethod"),
    (0x420060, "PrimeExponentP"),
    (0x420061, "PrimeExponentQ"),
    (0x420062, "PrimeFieldSize"),
    (0x420063, "PrivateExponent"),
    (0x420064, "PrivateKey"),
    (0x420065, "PrivateKeyTemplateAttribute"),
    (0x420066, "PrivateKeyUniqueIdentifier"),
    (0x420067, "ProcessStartDate"),
    (0x420068, "ProtectStopDate"),
    (0x420069, "ProtocolVersion"),
    (0x42006A, "ProtocolVersionMajor"),
    (0x42006B, "ProtocolVersionMinor"),
    (0x42006C, "PublicExponent"),
    (0x42006D, "PublicKey"),
    (0x42006E, "PublicKeyTemplateAttribute"),
    (0x42006F, "PublicKeyUniqueIdentifier"),
    (0x420070, "PutFunction"),
    (0x420071, "Q"),
    (0x420072, "QString"),
    (0x420073, "Qlength"),
    (0x420074, "QueryFunction"),
    (0x420075, "RecommendedCurve"),
    (0x420076, "ReplacedUniqueIdentifier"),
    (0x42000F, "RequestBatchItem"),
    (0x420077, "RequestHeader"),
    (0x420078, "RequestMessage"),
    (0x420079, "RequestPayload"),
    (0x42000F, "ResponseBatchItem"),
    (0x42007A, "ResponseHeader"),
    (0x42007B, "ResponseMessage"),
    (0x42007C, "ResponsePayload"),
    (0x42007D, "ResultMessage"),
    (0x42007E, "ResultReason"),
    (0x42007F, "ResultStatus"),
    (0x420080, "RevocationMessage"),
    (0x420081, "RevocationReason"),
    (0x420082, "RevocationReasonCode"),
    (0x420083, "KeyRoleType"),
    (0x420084, "Salt"),
    (0x420085, "SecretData"),
    (0x420086, "SecretDataType"),
    (0x420087, "SerialNumber"),
    (0x420088, "ServerInformation"),
    (0x420089, "SplitKey"),
    (0x42008A, "SplitKeyMethod"),
    (0x42008B, "SplitKeyParts"),
    (0x42008C, "SplitKeyThreshold"),
    (0x42008D, "State"),
    (0x42008E, "StorageStatusMask"),
    (0x42008F, "SymmetricKey"),
    (0x420090, "Template"),
    (0x420091, "TemplateAttribute"),
    (0x420092, "TimeStamp"),
    (0x420093, "UniqueBatchItemId"),
    (0x420094, "UniqueIdentifier"),
    (0x420095, "UsageLimits"),
    (0x420096, "UsageLimitsCount"),
    (0x420097, "UsageLimitsTotal"),
    (0x420098, "UsageLimitsUnit"),
    (0x420099, "Username"),
    (0x42009A, "ValidityDate"),
    (0x42009B, "ValidityIndicator"),
    (0x42009C, "VendorExtension"),
    (0x42009D, "VendorIdentification"),
    (0x42009E, "WrappingMethod"),
    (0x42009F, "X"),
    (0x4200A0, "Y"),
    (0x4200A1, "Password"),
    (0x4200A2, "DeviceIdentifier"),
    (0x4200A3, "EncodingOption"),
    (0x4200A4, "ExtensionInformation"),
    (0x4200A5, "ExtensionName"),
    (0x4200A6, "ExtensionTag"),
    (0x4200A7, "ExtensionType"),
    (0x4200A8, "Fresh"),
    (0x4200A9, "MachineIdentifier"),
    (0x4200AA, "MediaIdentifier"),
    (0x4200AB, "NetworkIdentifier"),
    (0x4200AC, "ObjectGroupMember"),
    (0x4200AD, "CertificateLength"),
    (0x4200AE, "DigitalSignatureAlgorithm"),
    (0x4200AF, "CertificateSerialNumber"),
    (0x4200B0, "DeviceSerialNumber"),
    (0x4200B1, "IssuerAlternativeName"),
    (0x4200B2, "IssuerDistinguishedName"),
    (0x4200B3, "SubjectAlternativeName"),
    (0x4200B4, "SubjectDistinguishedName"),
    (0x4200B5, "X509CertificateIdentifier"),
    (0x4200B6, "X509CertificateIssuer"),
    (0x4200B7, "X509CertificateSubject"),
    (0x4200B8, "KeyValueLocation"),
    (0x4200B9, "KeyValueLocationValue"),
    (0x4200BA, "KeyValueLocationType"),
    (0x4200BB, "KeyValuePresent"),
    (0x4200BC, "OriginalCreationDate"),
    (0x4200BD, "PgpKey"),
    (0x4200BE, "PgpKeyVersion"),
    (0x4200BF, "AlternativeName"),
    (0x4200C0, "AlternativeNameValue"),
    (0x4200C1, "AlternativeNameType"),
    (0x4200C2, "Data"),
    (0x4200C3, "SignatureData"),
    (0x4200C4, "DataLength"),
    (0x4200C5, "RandomIv"),
    (0x4200C6, "MacData"),
    (0x4200C7, "AttestationType"),
    (0x4200C8, "Nonce"),
    (0x4200C9, "NonceId"),
    (0x4200CA, "NonceValue"),
    (0x4200CB, "AttestationMeasurement"),
    (0x4200CC, "AttestationAssertion"),
    (0x4200CD, "IvLength"),
    (0x4200CE, "TagLength"),
    (0x4200CF, "FixedFieldLength"),
    (0x4200D0, "CounterLength"),
    (0x4200D1, "InitialCounterValue"),
    (0x4200D2, "InvocationFieldLength"),
    (0x4200D3, "AttestationCapableIndicator"),
    (0x4200D4, "OffsetItems"),
    (0x4200D5, "LocatedItems"),
    (0x4200D6, "CorrelationValue"),
    (0x4200D7, "InitIndicator"),
    (0x4200D8, "FinalIndicator"),
    (0x4200D9, "RngParameters"),
    (0x4200DA, "RngAlgorithm"),
    (0x4200DB, "DrbgAlgorithm"),
    (0x4200DC, "Fips186Variation"),
    (0x4200DD, "PredictionResistance"),
    (0x4200DE, "RandomNumberGenerator"),
    (0x4200DF, "ValidationInformation"),
    (0x4200E0, "ValidationAuthorityType"),
    (0x4200E1, "ValidationAuthorityCountry"),
    (0x4200E2, "ValidationAuthorityUri"),
    (0x4200E3, "ValidationVersionMajor"),
    (0x4200E4, "ValidationVersionMinor"),
    (0x4200E5, "ValidationType"),
    (0x4200E6, "ValidationLevel"),
    (0x4200E7, "ValidationCertificateIdentifier"),
    (0x4200E8, "ValidationCertificateUri"),
    (0x4200E9, "ValidationVendorUri"),
    (0x4200EA, "ValidationProfile"),
    (0x4200EB, "ProfileInformation"),
    (0x4200EC, "ProfileName"),
    (0x4200ED, "ServerUri"),
    (0x4200EE, "ServerPort"),
    (0x4200EF, "StreamingCapability"),
    (0x4200F0, "AsynchronousCapability"),
    (0x4200F1, "AttestationCapability"),
    (0x4200F2, "UnwrapMode"),
    (0x4200F3, "DestroyAction"),
    (0x4200F4, "ShreddingAlgorithm"),
    (0x4200F5, "RngMode"),
    (0x4200F6, "ClientRegistrationMethod"),
    (0x4200F7, "CapabilityInformation"),
    (0x4200F8, "KeyWrapType"),
    (0x4200F9, "BatchUndoCapability"),
    (0x4200FA, "BatchContinueCapability"),
    (0x4200FB, "Pkcs12FriendlyName"),
    (0x4200FC, "Description"),
    (0x4200FD, "Comment"),
    (0x4200FE, "AuthenticatedEncryptionAdditionalData"),
    (0x4200FF, "AuthenticatedEncryptionTag"),
    (0x420100, "SaltLength"),
    (0x420101, "MaskGenerator"),
    (0x420102, "MaskGeneratorHashingAlgorithm"),
    (0x420103, "PSource"),
    (0x420104, "TrailerField"),
    (0x420105, "ClientCorrelationValue"),
    (0x420106, "ServerCorrelationValue"),
    (0x420107, "DigestedData"),
    (0x420108, "CertificateSubjectCn"),
    (0x420109, "CertificateSubjectO"),
    (0x42010A, "CertificateSubjectOu"),
    (0x42010B, "CertificateSubjectEmail"),
    (0x42010C, "CertificateSubjectC"),
    (0x42010D, "CertificateSubjectSt"),
    (0x42010E, "CertificateSubjectL"),
    (0x42010F, "CertificateSubjectUid"),
    (0x420110, "CertificateSubjectSerialNumber"),
    (0x420111, "CertificateSubjectTitle"),
    (0x420112, "CertificateSubjectDc"),
    (0x420113, "CertificateSubjectDnQualifier"),
    (0x420114, "CertificateIssuerCn"),
    (0x420115, "CertificateIssuerO"),
    (0x420116, "CertificateIssuerOu"),
    (0x420117, "CertificateIssuerEmail"),
    (0x420118, "CertificateIssuerC"),
    (0x420119, "CertificateIssuerSt"),
    (0x42011A, "CertificateIssuerL"),
    (0x42011B, "CertificateIssuerUid"),
    (0x42011C, "CertificateIssuerSerialNumber"),
    (0x42011D, "CertificateIssuerTitle"),
    (0x42011E, "CertificateIssuerDc"),
    (0x42011F, "CertificateIssuerDnQualifier"),
    (0x420120, "Sensitive"),
    (0x420121, "AlwaysSensitive"),
    (0x420122, "Extractable"),
    (0x420123, "NeverExtractable"),
    (0x420124, "ReplaceExisting"),
    (0x420125, "Attributes"),
    (0x420126, "CommonAttributes"),
    (0x420127, "PrivateKeyAttributes"),
    (0x420128, "PublicKeyAttributes"),
    (0x420129, "ExtensionEnumeration"),
    (0x42012A, "ExtensionAttribute"),
    (0x42012B, "ExtensionParentStructureTag"),
    (0x42012C, "ExtensionDescription"),
    (0x42012D, "ServerName"),
    (0x42012E, "ServerSerialNumber"),
    (0x42012F, "ServerVersion"),
    (0x420130, "ServerLoad"),
    (0x420131, "ProductName"),
    (0x420132, "BuildLevel"),
    (0x420133, "BuildDate"),
    (0x420134, "ClusterInfo"),
    (0x420135, "AlternateFailoverEndpoints"),
    (0x420136, "ShortUniqueIdentifier"),
    (0x420137, "Reserved"),
    (0x420138, "Tag"),
    (0x420139, "CertificateRequestUniqueIdentifier"),
    (0x42013A, "NistKeyType"),
    (0x42013B, "AttributeReference"),
    (0x42013C, "CurrentAttribute"),
    (0x42013D, "NewAttribute"),
    (0x420140, "CertificateRequestValue"),
    (0x420141, "LogMessage"),
    (0x420142, "ProfileVersion"),
    (0x420143, "ProfileVersionMajor"),
    (0x420144, "ProfileVersionMinor"),
    (0x420145, "ProtectionLevel"),
    (0x420146, "ProtectionPeriod"),
    (0x420147, "QuantumSafe"),
    (0x420148, "QuantumSafeCapability"),
    (0x420149, "Ticket"),
    (0x42014A, "TicketType"),
    (0x42014B, "TicketValue"),
    (0x42014C, "RequestCount"),
    (0x42014D, "Rights"),
    (0x42014E, "Objects"),
    (0x42014F, "Operations"),
    (0x420150, "Right"),
    (0x420151, "EndpointRole"),
    (0x420152, "DefaultsInformation"),
    (0x420153, "ObjectDefaults"),
    (0x420154, "Ephemeral"),
    (0x420155, "ServerHashedPassword"),
    (0x420156, "OneTimePassword"),
    (0x420157, "HashedPassword"),
    (0x420158, "AdjustmentType"),
    (0x420159, "Pkcs11Interface"),
    (0x42015A, "Pkcs11Function"),
    (0x42015B, "Pkcs11InputParameters"),
    (0x42015C, "Pkcs11OutputParameters"),
    (0x42015D, "Pkcs11ReturnCode"),
    (0x42015E, "ProtectionStorageMask"),
    (0x42015F, "ProtectionStorageMasks"),
    (0x420160, "InteropFunction"),
    (0x420161, "InteropIdentifier"),
    (0x420162, "AdjustmentValue"),
    (0x420163, "CommonProtectionStorageMasks"),
    (0x420164, "PrivateProtectionStorageMasks"),
    (0x420165, "PublicProtectionStorageMasks"),
];
