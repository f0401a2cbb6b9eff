namespace Snn.Core.Data;

/// <summary>
/// Legacy keys of the known datasets, kept while callers written before <see cref="DatasetDescriptor"/> move to
/// it: each maps to one descriptor (<see cref="DatasetKindExtensions.Descriptor"/>), which holds everything
/// known about the dataset. New code uses descriptors.
/// </summary>
public enum DatasetKind
{
    /// <summary><see cref="DatasetDescriptor.FashionMnist"/>.</summary>
    FashionMnist,

    /// <summary><see cref="DatasetDescriptor.Mnist"/>.</summary>
    Mnist,

    /// <summary><see cref="DatasetDescriptor.Cifar10"/>.</summary>
    Cifar10,

    /// <summary><see cref="DatasetDescriptor.Cifar100"/>.</summary>
    Cifar100,

    /// <summary><see cref="DatasetDescriptor.ImageNet"/> (an image folder in the ImageNet layout).</summary>
    ImageFolder,
}

/// <summary>The bridge from legacy <see cref="DatasetKind"/> values to descriptors.</summary>
public static class DatasetKindExtensions
{
    /// <summary>The descriptor of a legacy dataset kind.</summary>
    /// <param name="kind">The kind.</param>
    /// <exception cref="ArgumentException">Not a defined kind.</exception>
    public static DatasetDescriptor Descriptor(this DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => DatasetDescriptor.FashionMnist,
        DatasetKind.Mnist => DatasetDescriptor.Mnist,
        DatasetKind.Cifar10 => DatasetDescriptor.Cifar10,
        DatasetKind.Cifar100 => DatasetDescriptor.Cifar100,
        DatasetKind.ImageFolder => DatasetDescriptor.ImageNet,
        _ => throw new ArgumentException($"{nameof(kind)} = {kind} is not a known dataset kind", nameof(kind)),
    };
}
