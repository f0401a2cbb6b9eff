namespace Snn.Core.Data;

/// <summary>
/// Training augmentation: random crop back to H x W after zero-padding each side by <see cref="Padding"/>
/// pixels (offsets uniform in [0, 2 * Padding] per image and axis), then a horizontal flip with probability 1/2.
/// Padding is with raw pixel value 0 (black) before normalisation, exactly like torchvision's
/// RandomCrop(padding=p) followed by Normalize, so padded pixels become -Mean[c] / Std[c] after normalising.
/// </summary>
/// <param name="Padding">Zero padding per side in pixels, &gt;= 0; 0 disables the crop.</param>
/// <param name="HorizontalFlip">Whether to flip each image left-right with probability 1/2.</param>
public sealed record Augmentation(int Padding, bool HorizontalFlip)
{
    /// <summary>No augmentation (evaluation).</summary>
    public static Augmentation None { get; } = new(0, false);

    /// <summary>Whether the augmentation changes anything.</summary>
    public bool IsIdentity => Padding == 0 && !HorizontalFlip;

    /// <summary>
    /// The standard training augmentation of a legacy dataset kind: <see cref="DatasetDescriptor.TrainingAugmentation"/>
    /// of its descriptor.
    /// </summary>
    /// <param name="kind">The dataset kind.</param>
    public static Augmentation For(DatasetKind kind) => kind.Descriptor().TrainingAugmentation;
}
