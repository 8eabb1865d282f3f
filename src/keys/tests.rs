//! Golden tests: the official BIP-340 vectors, NIP-19's examples and the original's test users.

use super::*;

const BIP340_CSV: &str = include_str!("../../tests/vectors/bip340.csv");

#[test]
fn bip340_official_vectors() {
    let mut checked = 0;
    for line in BIP340_CSV.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (index, sk, pk, aux, msg, sig, ok) = (f[0], f[1], f[2], f[3], f[4], f[5], f[6] == "TRUE");
        let msg: [u8; 32] = hex::decode_array(msg).expect("vector message");
        let sig: [u8; 64] = hex::decode_array(sig).expect("vector signature");
        if !sk.is_empty() {
            let key = SecretKey::parse(sk).expect("vector secret key");
            assert_eq!(key.public_key().to_hex(), pk.to_ascii_lowercase(), "vector {index}: public key");
            let aux: [u8; 32] = hex::decode_array(aux).expect("vector aux");
            assert_eq!(key.sign(&msg, &aux), sig, "vector {index}: signature");
        }
        let verified = match PublicKey::parse(pk) {
            Ok(p) => verify(&p.to_xonly().expect("parse checked the curve"), &msg, &sig),
            Err(KeyError::NotOnCurve) => false,
            Err(e) => panic!("vector {index}: unexpected key error {e}"),
        };
        assert_eq!(verified, ok, "vector {index}: verification result");
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn nip19_examples() {
    // The examples given in NIP-19 itself.
    let pk = PublicKey::parse("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg").expect("npub");
    assert_eq!(pk.to_hex(), "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
    assert_eq!(pk.to_npub(), "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg");
    let sk = SecretKey::parse("nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5").expect("nsec");
    assert_eq!(sk.to_hex(), "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa");
    assert_eq!(sk.to_nsec(), "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5");
}

#[test]
fn original_test_users() {
    // Appendix A of the original's spec: secret, nsec, pubkey, npub, shortPkey, mesh name.
    let users = [
        (
            "0000000000000000000000000000000000000000000000000000000000000003",
            "nsec1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqps52s3re",
            "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
            "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266",
            0x8601_f113_bce0_36f9_u64,
            0xf113_bce0_36f9_u64,
        ),
        (
            "76f5056ae58d6460e4272ff038e49432e91c5fe7b670f49577bf483c180b48db",
            "nsec1wm6s26h934jxpep89lcr3ey5xt53chl8kec0f9thhayrcxqtfrds5e5lad",
            "d70653b0973aa1ec9b9525c147952fdb161f52482f38915c6db671e529443f01",
            "npub16ur98vyh82s7exu4yhq509f0mvtp75jg9uufzhrdkec7222y8uqsnm3w7m",
            0x6db6_71e5_2944_3f01,
            0x71e5_2944_3f01,
        ),
        (
            "68ff284f96fd5b36bfd8a88eab49a30dbde6f3c8c6662c4ab6e7c1f2444d1002",
            "nsec1drljsnukl4dnd07c4z82kjdrpk77du7gcenzcj4kulqly3zdzqpqfev3z8",
            "a82e782078ed0ebda1b40a93bad5433114cb1293059283bb61ceedbbebdf119c",
            "npub14qh8sgrca58tmgd5p2fm442rxy2vky5nqkfg8wmpemkmh67lzxwqktk9dr",
            0x61ce_edbb_ebdf_119c,
            0xedbb_ebdf_119c,
        ),
    ];
    for (sk_hex, nsec, pk_hex, npub, short, mesh) in users {
        let sk = SecretKey::parse(sk_hex).expect("secret");
        assert_eq!(sk.to_nsec(), nsec);
        assert_eq!(SecretKey::parse(nsec).expect("nsec").to_hex(), sk_hex);
        let pk = sk.public_key();
        assert_eq!(pk.to_hex(), pk_hex);
        assert_eq!(pk.to_npub(), npub);
        assert_eq!(PublicKey::parse(npub).expect("npub"), pk);
        assert_eq!(PublicKey::parse(pk_hex).expect("hex"), pk);
        assert_eq!(PublicKey::parse(&pk_hex.to_uppercase()).expect("upper hex"), pk);
        assert_eq!(pk.node_id(), NodeId(short));
        assert_eq!(pk.node_id().mesh_peer_name(), mesh);
        assert_eq!(pk.node_id().to_dir_name(), format!("{short:x}"));
    }
}

#[test]
fn strict_key_parsing() {
    let good = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
    // One character changed: checksum fails.
    let bad_checksum = good.replace("gq266", "gq267");
    assert!(matches!(PublicKey::parse(&bad_checksum), Err(KeyError::Bech32(_))));
    // Mixed case is not bech32.
    let mixed = format!("N{}", &good[1..]);
    assert!(matches!(PublicKey::parse(&mixed), Err(KeyError::Bech32(_))));
    // An nsec where an npub belongs says so.
    let nsec = "nsec1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqps52s3re";
    assert!(matches!(PublicKey::parse(nsec), Err(KeyError::WrongPrefix { .. })));
    // Short hex (the original panicked on it).
    assert!(matches!(PublicKey::parse("f9308a01"), Err(KeyError::Hex(_))));
    // 64 hex characters that are not an x coordinate (BIP-340 vector 5's key).
    let off_curve = "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34";
    assert_eq!(PublicKey::parse(off_curve), Err(KeyError::NotOnCurve));
    assert!(PublicKey::parse("").is_err());
    // bech32m checksum of the same data must be rejected (NIP-19 is bech32).
    let hrp = Hrp::parse("npub").expect("hrp");
    let data = PublicKey::parse(good).expect("good").0;
    let m = bech32::encode::<bech32::Bech32m>(hrp, &data).expect("encode");
    assert!(matches!(PublicKey::parse(&m), Err(KeyError::Bech32(_))));
    // A secret key of zero is invalid.
    assert_eq!(SecretKey::from_bytes([0; 32]).err(), Some(KeyError::NotOnCurve));
}

#[test]
fn debug_never_prints_secrets() {
    let sk = SecretKey::parse("0000000000000000000000000000000000000000000000000000000000000003").expect("secret");
    assert_eq!(format!("{sk:?}"), "SecretKey(..)");
}
