//! Vector-friendly entrywise kernels: a branch-free `exp`, and loops compiled for AVX2+FMA
//! when the CPU has it (chosen at run time; the crate itself targets baseline x86-64).
//!
//! libm's `exp` is a scalar call, so a sigmoid over a 512×256 activation costs ~5 ns per entry;
//! the polynomial below vectorizes and agrees with it to about one ulp.

/// 1/k! for k = 0..=13.
const EXP_TAYLOR: [f64; 14] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// e^x to within ~2 ulp, without branches or calls: x = n·ln2 + r, |r| ≤ ln2/2, then a
/// degree-13 Taylor polynomial for e^r (truncation error < 5e-18) scaled by 2^n built from bits.
/// Only `+ − × ÷` and selects: the same bits from scalar, AVX2 and AVX-512 code.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's split of ln 2: n·LN2_HI is exact for the n that occur here.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding 1.5·2^52 rounds to an integer in the low mantissa bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let xc = x.clamp(-746.0, 710.0);
    let t = xc * LOG2E + MAGIC;
    let nf = t - MAGIC;
    let n = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64); // NaN: garbage, masked below
    let r = (xc - nf * LN2_HI) - nf * LN2_LO;
    // Estrin's scheme: the same polynomial as Horner's rule with a third of the dependency
    // chain, so that independent entries overlap in the pipeline.
    let (r2, c) = (r * r, &EXP_TAYLOR);
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a0 = c[0] + c[1] * r;
    let a1 = c[2] + c[3] * r;
    let a2 = c[4] + c[5] * r;
    let a3 = c[6] + c[7] * r;
    let a4 = c[8] + c[9] * r;
    let a5 = c[10] + c[11] * r;
    let a6 = c[12] + c[13] * r;
    let b0 = a0 + a1 * r2;
    let b1 = a2 + a3 * r2;
    let b2 = a4 + a5 * r2;
    let p = (b0 + b1 * r4) + (b2 + a6 * r4) * r8;
    // 2^n is not a normal number at the ends of the range: there, scale by 2^(n∓64), then by
    // 2^±64 (below 2^-1022 this is the one rounding into a subnormal).
    let (low, high) = (nf < -1000.0, nf > 1000.0);
    let nn = if low {
        n.wrapping_add(64)
    } else if high {
        n.wrapping_sub(64)
    } else {
        n
    };
    let scale = f64::from_bits((nn.wrapping_add(1023) as u64) << 52);
    let y = p
        * scale
        * if low {
            5.421_010_862_427_522e-20
        } else if high {
            1.844_674_407_370_955_2e19
        } else {
            1.0
        };
    let y = if x > 709.782_712_893_384 { f64::INFINITY } else { y };
    let y = if x < -745.133_219_101_941_1 { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// 1/(1 + e^(−x)).
#[inline(always)]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// The widest vector instructions this CPU has (kernels are compiled per level by `by_level!`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Avx512,
    Avx2,
    Base,
}

pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Level::Avx2;
        }
    }
    Level::Base
}

/// `$vis fn $name<generics>(args) -> ret` running `$body(args)` compiled for the widest vector
/// level this CPU has: one copy of the `#[inline(always)]` body inside a `#[target_feature]`
/// wrapper per level (a closure passed to such a wrapper is not reliably inlined, and then not
/// vectorized).
macro_rules! by_level {
    ($(#[$m:meta])* $vis:vis fn $name:ident [$($gen:tt)*] ($($arg:ident : $ty:ty),*) -> $ret:ty = $body:path) => {
        $(#[$m])*
        $vis fn $name<$($gen)*>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
            unsafe fn avx512<$($gen)*>($($arg: $ty),*) -> $ret {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<$($gen)*>($($arg: $ty),*) -> $ret {
                $body($($arg),*)
            }
            match $crate::exec::simd::level() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level()` returned Avx512 only after detecting avx512f and avx512dq
                // (and every AVX-512 CPU has avx2 and fma), the features this copy is compiled
                // for; the body itself is safe code.
                $crate::exec::simd::Level::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level()` returned Avx2 only after detecting avx2 and fma, the
                // features this copy is compiled for; the body itself is safe code.
                $crate::exec::simd::Level::Avx2 => unsafe { avx2($($arg),*) },
                _ => $body($($arg),*),
            }
        }
    };
}
pub(super) use by_level;

by_level! {
    /// o[i] = f(a[i], b[i]), vectorized.
    pub fn zip_map[F: Fn(f64, f64) -> f64](o: &mut [f64], a: &[f64], b: &[f64], f: &F) -> () = zip_map_body
}

#[inline(always)]
fn zip_map_body<F: Fn(f64, f64) -> f64>(o: &mut [f64], a: &[f64], b: &[f64], f: &F) {
    o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y))
}

by_level! {
    /// o[i] += c·x[i] in place, vectorized.
    pub fn axpy[](o: &mut [f64], c: f64, x: &[f64]) -> () = axpy_body
}

#[inline(always)]
fn axpy_body(o: &mut [f64], c: f64, x: &[f64]) {
    o.iter_mut().zip(x).for_each(|(o, &x)| *o += c * x)
}

by_level! {
    /// Σ f(xᵢ, yᵢ) with 32 independent accumulators: one running sum is bound by the latency of
    /// each addition; separate lanes overlap and vectorize. The order of additions is fixed by
    /// this code, so every instruction set gives the same bits.
    pub fn lane_sum[F: Fn(f64, f64) -> f64](x: &[f64], y: &[f64], f: &F) -> f64 = lane_sum_body
}

#[inline(always)]
fn lane_sum_body<F: Fn(f64, f64) -> f64>(x: &[f64], y: &[f64], f: &F) -> f64 {
    const L: usize = 32;
    let mut acc = [0.0; L];
    let (xs, ys) = (x.chunks_exact(L), y.chunks_exact(L));
    let tail: f64 = xs.remainder().iter().zip(ys.remainder()).map(|(&x, &y)| f(x, y)).sum();
    for (xc, yc) in xs.zip(ys) {
        for l in 0..L {
            acc[l] += f(xc[l], yc[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_agrees_with_libm_to_a_few_ulp() {
        let mut x: f64 = -750.0;
        while x < 712.0 {
            let (want, got) = (x.exp(), exp(x));
            if want == 0.0 || want.is_infinite() {
                assert_eq!(want, got, "exp({x})");
            } else if want >= f64::MIN_POSITIVE {
                let err = ((got - want) / want).abs();
                assert!(err < 5e-16, "exp({x}) = {got}, libm {want}, rel err {err:.2e}");
            } else {
                // Subnormal results: absolute error of an ulp of the smallest normal.
                assert!((got - want).abs() <= 2.0 * f64::from_bits(1), "exp({x}) = {got}, libm {want}");
            }
            x += 0.0137;
        }
        for x in [0.0, -0.0, 1e-300, -1e-300, 1.0, -1.0, 0.5 * std::f64::consts::LN_2] {
            assert!(((exp(x) - x.exp()) / x.exp()).abs() < 3e-16, "exp({x})");
        }
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn lane_sum_is_the_same_at_every_level() {
        let x: Vec<f64> = (0..1037).map(|i| ((i * 37) % 101) as f64 * 0.013 - 0.6).collect();
        let got = lane_sum(&x, &x, &|a, b| a * b);
        let plain = lane_sum_body(&x, &x, &|a, b| a * b);
        assert_eq!(got.to_bits(), plain.to_bits());
        let naive: f64 = x.iter().map(|v| v * v).sum();
        assert!((got - naive).abs() < 1e-12 * naive);
    }

    #[test]
    fn axpy_matches_the_scalar_loop() {
        let x: Vec<f64> = (0..1003).map(|i| (i as f64 - 500.0) * 0.37).collect();
        let mut o: Vec<f64> = (0..1003).map(|i| (i as f64) * 0.01).collect();
        let want: Vec<f64> = o.iter().zip(&x).map(|(o, x)| o + 0.3 * x).collect();
        axpy(&mut o, 0.3, &x);
        assert_eq!(o, want);
    }

    #[test]
    fn zip_map_matches_the_scalar_loop() {
        let a: Vec<f64> = (0..1001).map(|i| (i as f64 - 500.0) * 0.37).collect();
        let b: Vec<f64> = (0..1001).map(|i| (i as f64) * 0.01).collect();
        let mut o = vec![0.0; a.len()];
        zip_map(&mut o, &a, &b, &|x, y| sigmoid(x) * y);
        for i in 0..a.len() {
            assert_eq!(o[i], sigmoid(a[i]) * b[i]);
        }
    }
}
