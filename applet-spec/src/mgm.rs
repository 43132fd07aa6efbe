//! The management key's block cipher, one block at a time: the card and the
//! host compute the same witness and challenge answers of GENERAL AUTHENTICATE.

use cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};

use crate::piv::MgmAlgorithm;

fn run<C: KeyInit + BlockEncrypt + BlockDecrypt>(key: &[u8], block: &[u8], encrypt: bool) -> Option<Vec<u8>> {
    let cipher = C::new_from_slice(key).ok()?;
    if block.len() != C::block_size() {
        return None;
    }
    let mut b = GenericArray::clone_from_slice(block);
    if encrypt {
        cipher.encrypt_block(&mut b);
    } else {
        cipher.decrypt_block(&mut b);
    }
    Some(b.to_vec())
}

fn crypt(alg: MgmAlgorithm, key: &[u8], block: &[u8], encrypt: bool) -> Option<Vec<u8>> {
    match alg {
        MgmAlgorithm::TripleDes => run::<des::TdesEde3>(key, block, encrypt),
        MgmAlgorithm::Aes128 => run::<aes::Aes128>(key, block, encrypt),
        MgmAlgorithm::Aes192 => run::<aes::Aes192>(key, block, encrypt),
        MgmAlgorithm::Aes256 => run::<aes::Aes256>(key, block, encrypt),
    }
}

/// Encrypts one block; `None` if the key or block length does not fit `alg`.
pub fn encrypt_block(alg: MgmAlgorithm, key: &[u8], block: &[u8]) -> Option<Vec<u8>> {
    crypt(alg, key, block, true)
}

/// Decrypts one block; `None` if the key or block length does not fit `alg`.
pub fn decrypt_block(alg: MgmAlgorithm, key: &[u8], block: &[u8]) -> Option<Vec<u8>> {
    crypt(alg, key, block, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::piv::DEFAULT_MGM_KEY;

    #[test]
    fn round_trips_and_rejects_bad_lengths() {
        for alg in MgmAlgorithm::ALL {
            let key = vec![0x42; alg.key_len()];
            let block = vec![0x17; alg.block_len()];
            let c = encrypt_block(alg, &key, &block).unwrap();
            assert_ne!(c, block);
            assert_eq!(decrypt_block(alg, &key, &c).unwrap(), block);
            assert!(encrypt_block(alg, &key[1..], &block).is_none());
            assert!(encrypt_block(alg, &key, &block[1..]).is_none());
        }
    }

    #[test]
    fn triple_des_with_equal_thirds_is_single_des() {
        // With K1 = K2 = K3 the default key degenerates to single DES: a known
        // property that pins down the EDE3 construction.
        let one = run::<des::Des>(&DEFAULT_MGM_KEY[..8], &[0u8; 8], true).unwrap();
        let three = encrypt_block(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY, &[0u8; 8]).unwrap();
        assert_eq!(one, three);
    }
}
