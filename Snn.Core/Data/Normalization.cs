using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Per-channel normalisation x_norm = (p / 255 - Mean[c]) / Std[c] of raw pixels p in 0..255, with the means
/// and standard deviations given on the [0, 1] scale.
/// </summary>
/// <param name="Mean">Per-channel means on the [0, 1] scale; one entry per channel C.</param>
/// <param name="Std">Per-channel standard deviations on the [0, 1] scale, each &gt; 0; same length as Mean.</param>
public sealed record Normalization(float[] Mean, float[] Std)
{
    /// <summary>Fashion-MNIST: mean 0.2860, std 0.3530 (BENCHMARKS.md).</summary>
    public static Normalization FashionMnist { get; } = new([0.2860f], [0.3530f]);

    /// <summary>MNIST: mean 0.1307, std 0.3081.</summary>
    public static Normalization Mnist { get; } = new([0.1307f], [0.3081f]);

    /// <summary>CIFAR-10 training-set channel statistics: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).</summary>
    public static Normalization Cifar10 { get; } = new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);

    /// <summary>CIFAR-100 training-set channel statistics: mean (0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762).</summary>
    public static Normalization Cifar100 { get; } = new([0.5071f, 0.4865f, 0.4409f], [0.2673f, 0.2564f, 0.2762f]);

    /// <summary>ImageNet channel statistics: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).</summary>
    public static Normalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>The standard normalisation of a legacy dataset kind: <see cref="DatasetDescriptor.Normalization"/> of its descriptor.</summary>
    /// <param name="kind">The dataset kind.</param>
    public static Normalization For(DatasetKind kind) => kind.Descriptor().Normalization;

    /// <summary>
    /// Applies (p / 255 - Mean[c]) / Std[c] to uint8 pixels [B, C, H, W], returning float32 [B, C, H, W]
    /// (a new tensor owned by the caller).
    /// </summary>
    /// <param name="pixels">uint8 [B, C, H, W] with C = Mean.Length.</param>
    public Tensor Apply(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        Validate();
        if (pixels.dim() != 4 || pixels.shape[1] != Mean.Length)
        {
            throw new ArgumentException(
                $"{nameof(pixels)} has shape [{string.Join(", ", pixels.shape)}]: expected [B, {Mean.Length}, H, W]",
                nameof(pixels));
        }

        using var scope = NewDisposeScope();
        var c = Mean.Length;
        var scale = tensor(Std.Select(s => 1f / (255f * s)).ToArray(), [1, c, 1, 1]);
        var shift = tensor(Mean.Zip(Std, (m, s) => m / s).ToArray(), [1, c, 1, 1]);
        return pixels.to_type(ScalarType.Float32).mul_(scale).sub_(shift).MoveToOuterDisposeScope();
    }

    /// <summary>Checks that Mean and Std have the same non-zero length and every Std is finite and &gt; 0.</summary>
    public void Validate()
    {
        if (Mean is null || Std is null || Mean.Length == 0 || Mean.Length != Std.Length)
        {
            throw new ArgumentException(
                $"Mean has {Mean?.Length ?? 0} entries and Std {Std?.Length ?? 0}: expected the same number >= 1 (one per channel)",
                nameof(Mean));
        }

        foreach (var s in Std)
        {
            Guard.Positive(s, nameof(Std));
        }
    }
}
