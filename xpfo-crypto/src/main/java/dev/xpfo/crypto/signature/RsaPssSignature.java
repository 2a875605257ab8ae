// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.signature;

import dev.xpfo.crypto.keys.XpfoRsaPrivateKey;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.crypto.libcrypto.OpenSslErrors;

import java.lang.foreign.MemorySegment;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.security.ProviderException;
import java.security.SignatureException;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.List;
import java.util.Set;

/**
 * {@code RSASSA-PSS} with the parameters of a {@link PSSParameterSpec} (as JSSE passes them to
 * {@code initSign(key, spec, random)}): digest, MGF1 digest and an explicit salt length. Like SunRsaSign,
 * it refuses to sign or verify before it has parameters. Verification takes "RSA" and "RSASSA-PSS"
 * public keys and checks exactly the salt length of the parameters.
 */
public final class RsaPssSignature extends DigestSignature {
    private static final Set<String> DIGESTS = Set.of("SHA-256", "SHA-384", "SHA-512", "SHA-224", "SHA-1",
            "SHA-512/224", "SHA-512/256");
    private PSSParameterSpec spec;
    private MemorySegment mgfDigest;

    public RsaPssSignature() {
        super("RSASSA-PSS", null, XpfoRsaPrivateKey.class, "RSA", List.of("RSA", "RSA-PSS"));
    }

    @Override
    protected void engineSetParameter(AlgorithmParameterSpec params) throws InvalidAlgorithmParameterException {
        if (!(params instanceof PSSParameterSpec pss)) {
            throw new InvalidAlgorithmParameterException("RSASSA-PSS takes a PSSParameterSpec");
        }
        if (pss.getTrailerField() != PSSParameterSpec.TRAILER_FIELD_BC) {
            throw new InvalidAlgorithmParameterException("only the trailer field 1 is supported");
        }
        if (!"MGF1".equalsIgnoreCase(pss.getMGFAlgorithm()) || !(pss.getMGFParameters() instanceof MGF1ParameterSpec mgf)) {
            throw new InvalidAlgorithmParameterException("only MGF1 is supported, not " + pss.getMGFAlgorithm());
        }
        if (!DIGESTS.contains(pss.getDigestAlgorithm()) || !DIGESTS.contains(mgf.getDigestAlgorithm())) {
            throw new InvalidAlgorithmParameterException("unsupported digest " + pss.getDigestAlgorithm() + " / MGF1 " + mgf.getDigestAlgorithm());
        }
        if (pss.getSaltLength() < 0) {
            throw new InvalidAlgorithmParameterException("negative salt length");
        }
        spec = pss;
        digest(pss.getDigestAlgorithm());
        mgfDigest = SignContext.name(mgf.getDigestAlgorithm());
        restart();
    }

    @Override
    protected AlgorithmParameters engineGetParameters() {
        if (spec == null) {
            return null;
        }
        try {
            AlgorithmParameters parameters = AlgorithmParameters.getInstance("RSASSA-PSS");
            parameters.init(spec);
            return parameters;
        } catch (GeneralSecurityException e) {
            throw new ProviderException("the JDK cannot represent " + spec, e);
        }
    }

    /** PSS settings live in the context's EVP_PKEY_CTX: always start afresh and set them again. */
    @Override
    boolean reusesContext() {
        return false;
    }

    @Override
    void begin() throws SignatureException {
        if (spec == null) {
            throw new SignatureException("RSASSA-PSS needs its parameters: call setParameter(PSSParameterSpec) first");
        }
        super.begin();
    }

    /** The template of a PSS signature has the padding set: one per digest, MGF1 digest and salt length. */
    @Override
    Object templateSpec() {
        MGF1ParameterSpec mgf = (MGF1ParameterSpec) spec.getMGFParameters();
        return new PssTemplate(spec.getDigestAlgorithm(), mgf.getDigestAlgorithm(), spec.getSaltLength());
    }

    private record PssTemplate(String digest, String mgfDigest, int saltLength) { }

    @Override
    void configure(MemorySegment pkeyCtx) throws SignatureException {
        if (LibCrypto.evpPkeyCtxSetRsaPadding(pkeyCtx, LibCrypto.RSA_PKCS1_PSS_PADDING) <= 0) {
            throw new SignatureException(OpenSslErrors.failure("EVP_PKEY_CTX_set_rsa_padding", "choosing PSS"));
        }
        if (LibCrypto.evpPkeyCtxSetRsaMgf1MdName(pkeyCtx, mgfDigest, MemorySegment.NULL) <= 0) {
            throw new SignatureException(OpenSslErrors.failure("EVP_PKEY_CTX_set_rsa_mgf1_md_name", "choosing the MGF1 digest"));
        }
        if (LibCrypto.evpPkeyCtxSetRsaPssSaltlen(pkeyCtx, spec.getSaltLength()) <= 0) {
            throw new SignatureException(OpenSslErrors.failure("EVP_PKEY_CTX_set_rsa_pss_saltlen", "setting the salt length"));
        }
    }
}
