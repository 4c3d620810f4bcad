"""Reference solution of exercises/output_size.py (used by tests/test_exercises.py)."""


def conv_output_size(n, kernel, stride, padding):
    return (n + 2 * padding - kernel) // stride + 1


def network_output_sizes(n, layers):
    sizes = [n]
    for i, (kernel, stride, padding) in enumerate(layers):
        if kernel > sizes[-1] + 2 * padding:
            raise ValueError(f"layer {i}: kernel {kernel} is larger than its padded input "
                             f"{sizes[-1]} + 2*{padding}")
        sizes.append(conv_output_size(sizes[-1], kernel, stride, padding))
    return sizes
