"""cnet: CenterNet as a config-driven toolbox on mmengine. No compiled code."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    with open(osp.join(HERE, 'cnet', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_readme() -> str:
    path = osp.join(HERE, 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


def read_requirements(name: str) -> list:
    lines = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                lines.append(line)
    return lines


setup(
    name='cnet',
    version=read_version(),
    description='CenterNet ("Objects as Points") as a config-driven toolbox '
    'on mmengine: detection, human pose and monocular 3-D heads',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs',
                                    'benchmarks')),
    include_package_data=True,
    install_requires=read_requirements('runtime.txt'),
    # mmcv is imported as `mmcv`, whether the compiled build or the pure-Python
    # mmcv-lite. Installing mmcv-lite over a compiled mmcv would overwrite it,
    # so it is an extra: `pip install -e ".[lite]"` on a machine without mmcv.
    extras_require={
        'lite': read_requirements('mmcv.txt'),
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
