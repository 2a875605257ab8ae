// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.bench;

import org.junit.jupiter.api.Test;

import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.SignatureSpi;
import java.security.spec.ECGenParameterSpec;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CryptoSuiteTest {
    @Test
    void aVerifierThatAcceptsEverySignatureIsNotMeasured() throws Exception {
        KeyPair pair = p256();
        assertThatThrownBy(() -> CryptoSuite.verify("SHA256withECDSA", pair, new FixedAnswerProvider(true), "SunEC"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("accepts a tampered signature");
    }

    @Test
    void aVerifierThatRejectsTheRealSignatureIsNotMeasured() throws Exception {
        KeyPair pair = p256();
        assertThatThrownBy(() -> CryptoSuite.verify("SHA256withECDSA", pair, new FixedAnswerProvider(false), "SunEC"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("rejects the real signature");
    }

    @Test
    void aRightVerifierIsMeasured() throws Exception {
        CryptoSuite.Op op = CryptoSuite.verify("SHA256withECDSA", p256(), null, "SunEC");
        assertThatCode(op::run).doesNotThrowAnyException(); // the measured operation throws if its verification fails
    }

    private static KeyPair p256() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", "SunEC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    /** SunEC's SHA256withECDSA, except that verifying always gives one fixed answer. */
    private static final class FixedAnswerProvider extends Provider {
        FixedAnswerProvider(boolean answer) {
            super("FixedAnswer", "1", "verification that does not look at the signature");
            putService(new Service(this, "Signature", "SHA256withECDSA", FixedAnswerSignature.class.getName(), null, null) {
                @Override
                public Object newInstance(Object parameter) {
                    return new FixedAnswerSignature(answer);
                }
            });
        }
    }

    private static final class FixedAnswerSignature extends SignatureSpi {
        private final boolean answer;
        private final Signature signer;
        private boolean signing;

        FixedAnswerSignature(boolean answer) {
            this.answer = answer;
            try {
                this.signer = Signature.getInstance("SHA256withECDSA", "SunEC");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        protected void engineInitVerify(PublicKey publicKey) {
            signing = false;
        }

        @Override
        protected void engineInitSign(PrivateKey privateKey) throws InvalidKeyException {
            signer.initSign(privateKey);
            signing = true;
        }

        @Override
        protected void engineUpdate(byte b) throws SignatureException {
            if (signing) {
                signer.update(b);
            }
        }

        @Override
        protected void engineUpdate(byte[] bytes, int offset, int length) throws SignatureException {
            if (signing) {
                signer.update(bytes, offset, length);
            }
        }

        @Override
        protected byte[] engineSign() throws SignatureException {
            return signer.sign();
        }

        @Override
        protected boolean engineVerify(byte[] signature) {
            return answer;
        }

        @Override
        @SuppressWarnings("deprecation")
        protected void engineSetParameter(String key, Object value) {
        }

        @Override
        @SuppressWarnings("deprecation")
        protected Object engineGetParameter(String key) {
            return null;
        }
    }
}
